"""Benchmark tasks: a held-out task's evaluated cells, ground truth, recipe, seeds and images.

A task's **truth** is one of two kinds, named in every table (``BenchTask.truth``):

- **trained records** (the recipe's name, e.g. ``truth`` or ``mini``): each evaluated cell's
  seed mean of its records' ``target`` under one recipe, read from a record store
  (``load_bench_tasks``). A pick outside the evaluated cells is trained with that recipe and
  seeds (``ground_truth.py``). Percentile and regret are taken among the evaluated cells.
- **a published table** (``TruthTable``, e.g. ``nb201-cifar100``: NB201's ``cifar100_test``
  column, 200 epochs, for all 15,625 cells; ``load_table_task``): every cell has an exact
  truth, so nothing is ever trained. The evaluated cells (for Spearman) are one per canonical
  form (the 6,466 unique cells); percentile and regret are taken among all cells of the table.
  A **partial** table covers only some cells (``nb201-cifar10-valid``: NB201's 200-epoch
  cifar10-valid accuracy of the 200 cells with published learning curves): its cells are the
  evaluated ones, and a pick outside them has no truth (nan, shown as "—"), never a stand-in.

Where tasks come from, one function each:

- ``load_table_task``: a meta-test dataset whose truth is a table (CIFAR-100; CIFAR-10's partial one);
- ``load_bench_tasks(split="meta-test")``: CIFAR-10, MNIST, Fashion-MNIST from the meta-test store;
- ``load_bench_tasks(split="test")``: the task-disjoint test tasks of a meta-training store
  (the within-distribution row: database v1's Tiny-ImageNet test tasks);
- ``load_lodo_tasks``: each held-out domain's tasks, all splits, scored by the checkpoints of
  a model retrained without that domain (``<lodo_dir>/<source>/``).

A task also keeps its recipe, the seeds its truth averaged over (a pick outside the evaluated
set is trained with exactly these), each cell's summed training wall seconds (what it cost to
learn its accuracy, charged to methods that train on the target), the dataset it is reported
under (``group``) and, for a held-out domain, its own checkpoint folder.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from metad2a.bench.metrics import Population
from metad2a.database.features_store import FeatureFile
from metad2a.database.store import Store
from metad2a.database.task_data import TaskData
from metad2a.database.tasks import (META_SPLITS, SOURCE_FORMAT, MetaTestLeakError, TaskImages, TaskSpec,
                                    load_task_images, meta_test_tasks, npz_class_names)
from metad2a.errors import DataError
from metad2a.predictors.base import DatasetSample
from metad2a.recipe import Recipe, get_recipe
from metad2a.space import canonical_form, unique_cells

# Meta-test datasets whose truth is a column of the shared NB201 table: exact 200-epoch accuracy
# of every cell. These columns are truth: no method may fit on them (``refuse_truth_column``).
TRUTH_TABLES = {"cifar100": "cifar100_test"}
TRUTH_COLUMNS = frozenset(TRUTH_TABLES.values())
# Meta-test datasets whose truth is a partial table: dataset name -> its image source. CIFAR-10's
# is the last point of NB201's 200-epoch cifar10-valid learning curves, published for 200 cells.
CURVE_TABLES = {"cifar10-nb201": "cifar10"}
TABLE_DATASETS = (*TRUTH_TABLES, *CURVE_TABLES)
# How each table dataset's images are split per class for what the benchmark builds on them
# (NASWOT): CIFAR-100 ships 100 test images per class; CIFAR-10 as in its meta-test truth.
TABLE_SPLITS = {"cifar100": (70, 30), "cifar10-nb201": (200, 200)}
# What the table's numbers are, for the protocol (shared/README.md, NAS-Bench-201).
TABLE_PROTOCOL = ("NB201's {column} column: 200 epochs, C=16, N=5, 32x32, SGD Nesterov lr 0.1 cosine, "
                  "the mean over NB201's seeds, for all {n} cells")
CURVE_PROTOCOL = ("NB201's cifar10-valid accuracy after 200 epochs (the last point of its published learning "
                  "curves; C=16, N=5, 32x32, trained on 25k CIFAR-10 train images, scored on the other 25k), "
                  "for the {n} cells that have a curve (NB201 index 0-199) and no others")
# The checkpoint files a held-out domain's folder must hold (models/checkpoint.py's names).
LODO_FILES = ("predictor.pt", "predictor_agnostic.pt", "generator.pt")


def refuse_truth_column(column: str | None, who: str) -> None:
    """Raise MetaTestLeakError if ``column`` is a meta-test truth column (it must never be fitted on)."""
    if column in TRUTH_COLUMNS:
        raise MetaTestLeakError(f"{who}: NB201 column {column!r} is meta-test truth and must not be fitted or "
                                "looked up by a method: use imagenet16_120_test")


@dataclass
class TruthTable:
    """Exact truth of every cell from a published table column, looked up and never trained.

    name:     what the truth is called in the tables, e.g. "nb201-cifar100"
    archs:    (M,) the table's cells (NB201 strings)
    accs:     (M,) their accuracy (%)
    about:    one line on where the numbers come from (the protocol)
    complete: every canonical form has a row (NB201's full columns); False for a partial table,
              whose missing cells have no truth (``find`` gives None)
    """

    name: str
    archs: list[str]
    accs: np.ndarray
    about: str = ""
    complete: bool = True

    def __post_init__(self) -> None:
        self.accs = np.asarray(self.accs, dtype=np.float64)
        if len(self.archs) != len(self.accs) or not len(self.archs):
            raise DataError(f"truth table {self.name}: {len(self.archs)} cells, {len(self.accs)} values")

    @cached_property
    def _index(self) -> dict[str, int]:
        return {a: i for i, a in enumerate(self.archs)}

    @cached_property
    def _by_form(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for i, a in enumerate(self.archs):
            out.setdefault(canonical_form(a), i)
        return out

    def find(self, arch: str) -> int | None:
        """Row of ``arch``: the cell itself, else the first row computing the same function (canonical form),
        else None."""
        i = self._index.get(arch)
        return self._by_form.get(canonical_form(arch)) if i is None else i

    def index(self, arch: str) -> int:
        """``find``, raising DataError when ``arch`` has no row."""
        i = self.find(arch)
        if i is None:
            raise DataError(f"cell {arch} has no row in truth table {self.name} ({len(self.archs)} cells): "
                            "use a table that covers every canonical form")
        return i

    def evaluated_cells(self) -> list[str]:
        """One cell per canonical form in the table: ``unique_cells()``'s representative where the table has it."""
        present, out = self._index, []
        for u in unique_cells():
            i = self._by_form.get(canonical_form(u))
            if i is not None:
                out.append(u if u in present else self.archs[i])
        return out


@dataclass
class BenchTask:
    """One held-out task.

    data:            TaskData: features (C, N, D), archs (n,) evaluated cells, accs (n,) their truth in %
    spec:            which images make up the task
    role:            "meta-test" | "meta-train": the store it came from (and its ground-truth cache)
    recipe:          how its evaluated cells were trained; with a ``table``, the recipe of any network the
                     benchmark builds on its images (NASWOT's C, N and resolution): nothing is trained
    seeds:           the training seeds its truth averages over (() for a table)
    train_seconds:   arch -> summed wall seconds of that cell's records
    data_root:       shared data folder holding images/ (None: ``$METAD2A_SHARED_DATA``)
    table:           exact truth of every cell (CIFAR-100), or None (trained records)
    group:           the dataset it is reported under ("" = its own name): e.g. "tiny-imagenet-test", "lodo-kannada"
    checkpoint_dir:  its own checkpoints (a held-out domain: models retrained without it), or None (the default ones)
    held_out_source: the image source its models never saw (leave-one-domain-out), or None
    """

    data: TaskData
    spec: TaskSpec
    role: str
    recipe: Recipe
    seeds: tuple[int, ...]
    train_seconds: dict[str, float] = field(default_factory=dict)
    data_root: str | None = None
    table: TruthTable | None = None
    group: str = ""
    checkpoint_dir: str | None = None
    held_out_source: str | None = None
    _images: TaskImages | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.data.task_id

    @property
    def dataset(self) -> str:
        """The dataset this task is reported (and ranked) under."""
        return self.group or self.name

    @property
    def truth(self) -> str:
        """What the accuracies are: the table's name, or the recipe's (e.g. "nb201-cifar100", "truth", "mini")."""
        return self.table.name if self.table is not None else self.recipe.name

    @property
    def partial_table(self) -> bool:
        """Its truth is a table covering only some cells: a pick outside them has none."""
        return self.table is not None and not self.table.complete

    @property
    def archs(self) -> list[str]:
        return self.data.archs

    @property
    def accs(self) -> np.ndarray:
        """(n,) float64 ground truth of the evaluated cells (%)."""
        return np.asarray(self.data.accs, dtype=np.float64)

    @property
    def population_archs(self) -> list[str]:
        """The cells a pick is ranked among: the table's (all of them) or the evaluated ones."""
        return self.table.archs if self.table is not None else self.archs

    @cached_property
    def population(self) -> Population:
        """Accuracies a pick's percentile and regret are taken among (``population_archs``' order)."""
        return Population(self.table.accs if self.table is not None else self.accs)

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


def _check_files(db: str | os.PathLike, features: str | os.PathLike) -> None:
    for path, what in ((db, "record store"), (features, "features file")):
        if not Path(path).is_file():
            raise DataError(f"{what} {path} not found: build it with python -m metad2a.collect "
                            f"(or point meta_data_dir / METAD2A_META_DATA at the folder holding it)")


def _read_tasks(db: str | os.PathLike, features: str | os.PathLike, specs: Sequence[TaskSpec],
                recipe_hash: str | None, store: Store) -> dict[str, tuple[TaskData, Recipe, tuple, dict]]:
    """task id -> (TaskData, recipe, seeds, arch -> seconds) for each spec with records.

    A task's truth is its records' seed mean of ``target`` under its one recipe (``recipe_hash``
    picks one when a task mixes several), archs sorted, accs float32: as ``load_task_data``. Its
    seeds are every seed among its records; a cell without all of them is left out.
    """
    recipes = store.recipes()
    feats = FeatureFile(features)
    out = {}
    for spec in specs:
        per_arch: dict[str, dict[int, float]] = defaultdict(dict)
        seconds: dict[str, float] = defaultdict(float)
        hashes = set()
        for r in store.records(task_id=spec.task_id, recipe_hash=recipe_hash):
            per_arch[r["arch"]][int(r["seed"])] = r["target"]
            seconds[r["arch"]] += float(r["wall_s"] or 0.0)
            hashes.add(r["recipe_hash"])
        seeds = set().union(*per_arch.values())
        # A cell still missing one of the task's seeds (a collection in progress) has no truth yet.
        per_arch = {a: list(by_seed.values()) for a, by_seed in per_arch.items() if by_seed.keys() == seeds}
        if not per_arch:
            continue
        if len(hashes) > 1:
            raise DataError(f"task {spec.task_id} in {db} has records of recipes {sorted(hashes)}: "
                            "set datasets.recipe_hash to one of them")
        recipe = Recipe.from_dict(recipes[hashes.pop()])
        archs = sorted(per_arch)
        accs = np.array([np.mean(per_arch[a]) for a in archs], dtype=np.float32)
        data = TaskData(spec.task_id, spec.split, feats.task_features(spec), archs, accs, recipe=recipe.name,
                        source=spec.source)
        out[spec.task_id] = (data, recipe, tuple(sorted(seeds)), dict(seconds))
    return out


def load_bench_tasks(db: str | os.PathLike, features: str | os.PathLike, split: str | Sequence[str],
                     names: Sequence[str] | None = None, max_tasks: int | None = None,
                     recipe_hash: str | None = None, data_root: str | os.PathLike | None = None,
                     sources: Sequence[str] | None = None, group: Callable[[TaskSpec], str] | None = None,
                     checkpoint_dir: str | os.PathLike | None = None,
                     held_out_source: str | None = None) -> list[BenchTask]:
    """The tasks of ``split`` that have records, with ground truth, recipe, seeds and costs.

    split:     "meta-test" (meta-test store) or "train" | "valid" | "test" (meta-training store),
               or several meta-training splits
    names:     keep only these task ids, in this order (every one must exist)
    max_tasks: keep the first ``max_tasks`` (by task id) after ``names``
    sources:   keep only tasks of these image sources
    group:     spec -> the dataset a task is reported under (default: its own name for meta-test
               tasks, "<source>-<split>" otherwise)
    checkpoint_dir, held_out_source: set on every task (leave-one-domain-out)
    """
    _check_files(db, features)
    splits = [split] if isinstance(split, str) else list(split)
    role = "meta-test" if splits == ["meta-test"] else "meta-train"
    with Store(db, role=role, readonly=True) as store:
        specs = [s for sp in splits for s in store.tasks(sp) if sources is None or s.source in sources]
        found = _read_tasks(db, features, specs, recipe_hash, store)
    if not found and names is None and sources is None:
        raise DataError(f"{db} has no records of {'/'.join(splits)} tasks: collect them first "
                        "(python -m metad2a.collect)")
    by_id = {s.task_id: s for s in specs}
    ids = list(names) if names is not None else sorted(found)
    missing = [i for i in ids if i not in found]
    if missing:
        raise DataError(f"{db} has no {'/'.join(splits)} records for {missing}: choose from {sorted(found)} "
                        "or collect them (python -m metad2a.collect)")
    if max_tasks is not None:
        ids = ids[: int(max_tasks)]
    if group is None:
        group = (lambda s: "") if role == "meta-test" else (lambda s: f"{s.source}-{s.split}")
    root = None if data_root is None else str(data_root)
    ckpt = None if checkpoint_dir is None else str(checkpoint_dir)
    return [BenchTask(found[i][0], by_id[i], role, found[i][1], found[i][2], found[i][3], root,
                      group=group(by_id[i]), checkpoint_dir=ckpt, held_out_source=held_out_source) for i in ids]


def table_spec(dataset: str, data_root: str | os.PathLike | None = None, train_per_class: int | None = None,
               test_per_class: int | None = None) -> TaskSpec:
    """The task spec of a table-truth dataset: its image source's classes, split per class (default
    ``TABLE_SPLITS``): CIFAR-100's from the shared ``.npz``, CIFAR-10's as in its meta-test truth."""
    source = CURVE_TABLES.get(dataset, dataset)
    n_train, n_test = TABLE_SPLITS[dataset]
    if source in TRUTH_TABLES:
        classes = tuple(npz_class_names(source, data_root))
    else:
        classes = meta_test_tasks(datasets=[source])[0].classes
    res, ch = SOURCE_FORMAT[source]
    return TaskSpec(source, source, classes, train_per_class or n_train, test_per_class or n_test, 0, "meta-test",
                    res, ch)


def load_table_task(dataset: str, features: str | os.PathLike, data_root: str | os.PathLike | None = None,
                    recipe: Recipe | None = None, train_per_class: int | None = None,
                    test_per_class: int | None = None) -> BenchTask:
    """A meta-test dataset whose truth is an NB201 table (``TABLE_DATASETS``).

    - "cifar100": the ``cifar100_test`` column, complete; evaluated cells: one per canonical form
      (all 6,466 unique cells);
    - "cifar10-nb201": CIFAR-10's partial table (``CURVE_TABLES``): the 200 cells with published
      200-epoch cifar10-valid curves, one per canonical form among them.

    Its features come from the meta-test features file. ``recipe`` (default: the truth recipe,
    C=8, N=2, 16 px) is only the network NASWOT builds on its images, split ``train_per_class``
    / ``test_per_class`` per class (default ``TABLE_SPLITS``).
    """
    from metad2a.nb201_tables import cifar10_valid_200, test_accuracy

    if dataset not in TABLE_DATASETS:
        raise DataError(f"no truth table for {dataset!r}: datasets.table takes {list(TABLE_DATASETS)}")
    if not Path(features).is_file():
        raise DataError(f"features file {features} not found: build the meta-test features "
                        "(python -m metad2a.collect kind=meta-test stage=features)")
    if dataset in TRUTH_TABLES:
        column, source = TRUTH_TABLES[dataset], dataset
        rows = sorted(test_accuracy(data_root).items(), key=lambda kv: kv[1]["index"])
        table = TruthTable(f"nb201-{dataset}", [a for a, _ in rows], np.array([r[column] for _, r in rows]),
                           TABLE_PROTOCOL.format(column=column, n=f"{len(rows):,}"))
    else:
        source = CURVE_TABLES[dataset]
        accs = cifar10_valid_200(data_root)
        table = TruthTable(f"nb201-{source}-valid", list(accs), np.array(list(accs.values())),
                           CURVE_PROTOCOL.format(n=len(accs)), complete=False)
    spec = table_spec(dataset, data_root, train_per_class, test_per_class)
    archs = table.evaluated_cells()
    accs = np.array([table.accs[table.index(a)] for a in archs], dtype=np.float32)
    data = TaskData(dataset, "meta-test", FeatureFile(features).task_features(spec), archs, accs,
                    recipe=table.name, source=source)
    return BenchTask(data, spec, "meta-test", recipe or get_recipe("truth"), (), {},
                     None if data_root is None else str(data_root), table=table)


def lodo_checkpoints(lodo_dir: str | os.PathLike, source: str) -> tuple[Path, list[str]]:
    """(``<lodo_dir>/<source>``, the ``LODO_FILES`` missing there)."""
    folder = Path(lodo_dir) / source
    return folder, [f for f in LODO_FILES if not (folder / f).is_file()]


def load_lodo_tasks(db: str | os.PathLike, features: str | os.PathLike, sources: Sequence[str],
                    lodo_dir: str | os.PathLike, recipe_hash: str | None = None,
                    data_root: str | os.PathLike | None = None,
                    max_tasks: int | None = None) -> tuple[list[BenchTask], list[str]]:
    """Each held-out domain's tasks (all splits), with its own checkpoints; (tasks, notes on skipped domains).

    A domain is skipped, with a note, when ``<lodo_dir>/<source>/`` lacks any of ``LODO_FILES``
    (the model retrained without it is not there yet) or the store has no records of it.
    Its tasks are reported under "lodo-<source>".
    """
    tasks, notes = [], []
    for source in sources:
        folder, missing = lodo_checkpoints(lodo_dir, source)
        if missing:
            notes.append(f"lodo-{source}: skipped, {folder} lacks {', '.join(missing)} (the models retrained "
                         f"without {source})")
            continue
        found = load_bench_tasks(db, features, META_SPLITS, None, max_tasks, recipe_hash, data_root,
                                 sources=[source], group=lambda s: f"lodo-{s.source}",
                                 checkpoint_dir=folder, held_out_source=source)
        if not found:
            notes.append(f"lodo-{source}: skipped, {db} has no records of {source} tasks yet")
        tasks += found
    return tasks, notes
