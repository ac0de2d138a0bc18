"""Frozen per-class feature samples in one ``.npz``, and the loader meta-training reads.

Features are stored per class, not per task: a class appears in many k-class tasks, so
``(source, class) -> (n_per_class, D)`` float16 is ~k times smaller than per-task copies
(202 Tiny-ImageNet classes x 20 x 1280 x 2 bytes ~ 10 MB). A task's features are the stack
of its classes' arrays, ``(num_classes, n_per_class, D)``.
"""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict
from pathlib import Path
from typing import Callable, Sequence
from urllib.parse import quote, unquote

import numpy as np

from metad2a.database.store import Store
from metad2a.database.task_data import TaskData
from metad2a.database.tasks import META_SPLITS, TaskSpec, check_meta_train, load_task_images
from metad2a.errors import DataError

log = logging.getLogger(__name__)
_META_KEY = "__meta__"


def class_key(source: str, class_name: str) -> str:
    """npz member name of one class ("/" in names such as "T-shirt/top" is escaped)."""
    return f"{source}|{quote(class_name, safe='')}"


class FeatureFile:
    """A read-only view of a features ``.npz``: ``meta`` and per-class arrays."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"features file {self.path} not found: build it with "
                            "metad2a.database.features_store.build_feature_file (python -m metad2a.collect)")
        with np.load(self.path, allow_pickle=False) as z:
            self.meta = json.loads(str(z[_META_KEY])) if _META_KEY in z else {}
            self._arrays = {k: z[k] for k in z.files if k != _META_KEY}

    def classes(self) -> list[tuple[str, str]]:
        """(source, class name) pairs present."""
        return [(k.split("|", 1)[0], unquote(k.split("|", 1)[1])) for k in self._arrays]

    def class_features(self, source: str, class_name: str) -> np.ndarray:
        """(n_per_class, D) float32."""
        key = class_key(source, class_name)
        if key not in self._arrays:
            raise DataError(f"{self.path} has no features for {source} class {class_name!r}: "
                            "rebuild the features file for these tasks")
        return self._arrays[key].astype(np.float32)

    def task_features(self, spec: TaskSpec) -> np.ndarray:
        """(num_classes, n_per_class, D) float32 in the task's label order."""
        return np.stack([self.class_features(spec.source, c) for c in spec.classes])


def write_feature_file(path: str | os.PathLike, arrays: dict[tuple[str, str], np.ndarray], meta: dict) -> Path:
    """Atomically write per-class arrays ``{(source, class): (n, D)}`` (stored float16) and ``meta``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    members = {class_key(s, c): np.asarray(a, dtype=np.float16) for (s, c), a in arrays.items()}
    members[_META_KEY] = np.array(json.dumps(meta, sort_keys=True))
    tmp = path.with_name(path.name + f".tmp{os.getpid()}.npz")
    np.savez_compressed(tmp, **members)
    os.replace(tmp, path)
    return path


def build_feature_file(path: str | os.PathLike, specs: Sequence[TaskSpec],
                       extract: Callable[[np.ndarray], np.ndarray], n_per_class: int = 20,
                       image_size: int = 64, extractor_tag: str = "", root: str | os.PathLike | None = None,
                       meta_test_ok: bool = False) -> Path:
    """Extract ``n_per_class`` train-image features for every class of ``specs`` and write them.

    extract: uint8 (N, H, W, 3) -> float (N, D), e.g. a ``metad2a.features`` extractor
    The images are the first ``n_per_class`` of each class's *training* images as the tasks
    split them (never their test images). Classes shared by several tasks are extracted once.
    Meta-test specs need ``meta_test_ok`` (they go in their own file).
    """
    if not meta_test_ok:
        check_meta_train(specs)
    groups: dict[tuple, set[str]] = defaultdict(set)
    for s in specs:
        groups[(s.source, s.seed, s.train_per_class, s.test_per_class, s.split == "meta-test")].update(s.classes)
    arrays, fingerprints = {}, {}
    for (source, seed, n_train, n_test, mt), classes in sorted(groups.items()):
        if n_train < n_per_class:
            raise DataError(f"{source} tasks have {n_train} train images per class, fewer than n_per_class={n_per_class}")
        names = sorted(classes)
        union = TaskSpec(f"features-{source}", source, tuple(names), n_train, n_test, seed,
                         "meta-test" if mt else "probe")
        images = load_task_images(union, image_size, root, meta_test_ok=meta_test_ok)
        fingerprints[f"{source}/s{seed}/{n_train}+{n_test}"] = images.fingerprint()
        # Only the first n_per_class train images of each class are kept: extract just those.
        first = np.concatenate([np.flatnonzero(images.train_y == label)[:n_per_class] for label in range(len(names))])
        feats = np.asarray(extract(images.train_x[first]), dtype=np.float32)
        labels = images.train_y[first]
        for label, name in enumerate(names):
            arrays[(source, name)] = feats[labels == label]
    meta = {"extractor": extractor_tag, "n_per_class": n_per_class, "image_size": image_size,
            "image_fingerprints": fingerprints, "dim": int(next(iter(arrays.values())).shape[1])}
    return write_feature_file(path, arrays, meta)


def load_task_data(db_path: str | os.PathLike, features_path: str | os.PathLike, split: str,
                   recipe_hash: str | None = None, value: str = "target") -> list[TaskData]:
    """The tasks of ``split`` with their features and seed-averaged accuracies.

    split: "train" | "valid" | "test" (meta-training store) or "meta-test" (meta-test store)
    recipe_hash: only records of this recipe; None takes each task's own recipe (a store may mix
             recipes across tasks, e.g. our runs and the imported NB201 table, but one task must
             not mix them: pass recipe_hash= then)
    value: "target" (the recipe's smoothed score) or "final_acc"
    Returns one TaskData per task that has records, archs sorted, accs (len(archs),) float32,
    with its recipe's name and its source.
    """
    if value not in ("target", "final_acc"):
        raise DataError(f"value must be 'target' or 'final_acc', got {value!r}")
    role = "meta-test" if split == "meta-test" else "meta-train"
    if split not in (*META_SPLITS, "meta-test"):
        raise DataError(f"split must be one of {(*META_SPLITS, 'meta-test')}, got {split!r}")
    feats = FeatureFile(features_path)
    with Store(db_path, role=role, readonly=True) as store:
        tasks = store.tasks(split)
        if role == "meta-train":
            check_meta_train(tasks)
        names = {h: spec.get("name", h) for h, spec in store.recipes().items()}
        out = []
        for spec in tasks:
            per_arch: dict[str, list[float]] = defaultdict(list)
            hashes = set()
            for r in store.records(task_id=spec.task_id, recipe_hash=recipe_hash):
                per_arch[r["arch"]].append(r[value])
                hashes.add(r["recipe_hash"])
            if not per_arch:
                continue
            if len(hashes) > 1:
                raise DataError(f"task {spec.task_id} in {db_path} has records of recipes {sorted(hashes)}: "
                                "pass recipe_hash= to pick one")
            archs = sorted(per_arch)
            accs = np.array([np.mean(per_arch[a]) for a in archs], dtype=np.float32)
            out.append(TaskData(spec.task_id, split, feats.task_features(spec), archs, accs,
                                recipe=names[hashes.pop()], source=spec.source))
    log.info("loaded %d %s tasks from %s", len(out), split, db_path)
    return out
