"""Benchmark tasks: a held-out task's evaluated cells, ground truth, recipe, seeds and images.

A task comes from one record store (``load_bench_tasks``):

- ``split="meta-test"`` reads the meta-test store (CIFAR-10, MNIST, Fashion-MNIST);
- ``split="test"`` (or "valid") reads those task-disjoint Tiny-ImageNet tasks of the
  meta-training store, which meta-training never fitted on.

Ground truth is ``load_task_data``'s: each evaluated cell's seed mean of the records'
``target`` under one recipe. The task also keeps that recipe, the seeds it averaged over (a
pick outside the evaluated set is trained with exactly these) and each cell's summed training
wall seconds (what it cost to learn its accuracy, charged to methods that train on the target).
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from metad2a.database.features_store import load_task_data
from metad2a.database.store import Store
from metad2a.database.task_data import TaskData
from metad2a.database.tasks import TaskImages, TaskSpec, load_task_images
from metad2a.errors import DataError
from metad2a.predictors.base import DatasetSample
from metad2a.recipe import Recipe


@dataclass
class BenchTask:
    """One held-out task.

    data:          TaskData: features (C, N, D), archs (n,), accs (n,) seed-mean target in %
    spec:          which images make up the task
    role:          "meta-test" | "meta-train": the store it came from (and its cache file)
    recipe:        how its evaluated cells were trained
    seeds:         the training seeds its ground truth averages over
    train_seconds: arch -> summed wall seconds of that cell's records
    data_root:     shared data folder holding images/ (None: ``$METAD2A_SHARED_DATA``)
    """

    data: TaskData
    spec: TaskSpec
    role: str
    recipe: Recipe
    seeds: tuple[int, ...]
    train_seconds: dict[str, float] = field(default_factory=dict)
    data_root: str | None = None
    _images: TaskImages | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.data.task_id

    @property
    def archs(self) -> list[str]:
        return self.data.archs

    @property
    def accs(self) -> np.ndarray:
        """(n,) float64 ground truth of the evaluated cells (%)."""
        return np.asarray(self.data.accs, dtype=np.float64)

    def images(self) -> TaskImages:
        """The task's images at the recipe's resolution (loaded once, then kept)."""
        if self._images is None:
            self._images = load_task_images(self.spec, self.recipe.resolution, self.data_root, meta_test_ok=True)
        return self._images

    def sample(self, with_images: bool = False) -> DatasetSample:
        """What a scorer sees: features (C, N, D) and, if asked, normalised train images (N, 3, H, W)."""
        images = normalised_images(self.images().train_x) if with_images else None
        labels = torch.as_tensor(self.images().train_y) if with_images else None
        return DatasetSample(name=self.name, num_classes=self.data.num_classes, images=images, labels=labels,
                             features=torch.as_tensor(self.data.features))


def normalised_images(x: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float32 (N, 3, H, W), standardised per channel as ``train_cell`` does."""
    t = torch.as_tensor(np.asarray(x)).permute(0, 3, 1, 2).float().div_(255.0)
    mean = t.mean(dim=(0, 2, 3), keepdim=True)
    std = t.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-3)
    return (t - mean) / std


def _pick_recipe(store: Store, db: Path, recipe_hash: str | None) -> str:
    hashes = sorted({h for (_, _, _, h) in store.done_keys()})
    if not hashes:
        raise DataError(f"{db} has no records: collect them first (python -m metad2a.collect)")
    if recipe_hash is None:
        if len(hashes) > 1:
            raise DataError(f"{db} holds records of recipes {hashes}: set datasets.recipe_hash to one of them")
        return hashes[0]
    if recipe_hash not in hashes:
        raise DataError(f"{db} has no records of recipe {recipe_hash}: it holds {hashes}")
    return recipe_hash


def load_bench_tasks(db: str | os.PathLike, features: str | os.PathLike, split: str,
                     names: Sequence[str] | None = None, max_tasks: int | None = None,
                     recipe_hash: str | None = None, data_root: str | os.PathLike | None = None) -> list[BenchTask]:
    """The tasks of ``split`` that have records, with ground truth, recipe, seeds and costs.

    split:     "meta-test" (meta-test store) or "train" | "valid" | "test" (meta-training store)
    names:     keep only these task ids, in this order (every one must exist)
    max_tasks: keep the first ``max_tasks`` (by task id) after ``names``
    """
    for path, what in ((db, "record store"), (features, "features file")):
        if not Path(path).is_file():
            raise DataError(f"{what} {path} not found: build it with python -m metad2a.collect "
                            f"(or point meta_data_dir / METAD2A_META_DATA at the folder holding it)")
    role = "meta-test" if split == "meta-test" else "meta-train"
    with Store(db, role=role) as store:
        h = _pick_recipe(store, Path(db), recipe_hash)
        recipe = Recipe.from_dict(store.recipes()[h])
        specs = {s.task_id: s for s in store.tasks(split)}
        seeds: dict[str, set[int]] = defaultdict(set)
        seconds: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for task_id in specs:
            for r in store.records(task_id=task_id, recipe_hash=h):
                seeds[task_id].add(int(r["seed"]))
                seconds[task_id][r["arch"]] += float(r["wall_s"] or 0.0)
    data = {t.task_id: t for t in load_task_data(db, features, split, recipe_hash=h)}
    ids = list(names) if names is not None else sorted(data)
    missing = [i for i in ids if i not in data]
    if missing:
        raise DataError(f"{db} has no {split} records for {missing}: choose from {sorted(data)} "
                        "or collect them (python -m metad2a.collect)")
    if max_tasks is not None:
        ids = ids[: int(max_tasks)]
    return [BenchTask(data[i], specs[i], role, recipe, tuple(sorted(seeds[i])), dict(seconds[i]),
                      None if data_root is None else str(data_root)) for i in ids]
