"""The true accuracy of any picked cell on a benchmark task, trained at most once.

A pick whose canonical form (``metad2a.space.canonical_form``, the NB201 6,466-class
convention) equals an evaluated cell's computes the same function, so it takes that cell's
ground truth. Any other pick is trained exactly as the task's evaluated cells were
(``train_cell`` with the task's recipe, once per ground-truth seed) and scored by the seed
mean of ``target``. Those records go into a cache store per role,
``<cache_dir>/extra-meta-test.sqlite`` and ``extra-meta-train.sqlite``: every record is
committed as soon as it is trained, so a rerun (or a resumed crash) trains nothing twice.
The stores of ``meta_data/`` are never written.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from metad2a.bench.tasks import BenchTask
from metad2a.database.store import Store
from metad2a.recipe import train_cell
from metad2a.space import canonical_form


class GroundTruth:
    """Looks up or trains the true accuracy of cells on benchmark tasks.

    cache_dir: folder of the per-role cache stores
    device:    where missing cells are trained ("cpu", "cuda")

    ``trained`` counts training runs done by this object; ``reused`` counts runs found cached.
    Use as a context manager (closes the stores).
    """

    def __init__(self, cache_dir: str | os.PathLike, device: str = "cpu"):
        self.cache_dir, self.device = Path(cache_dir), device
        self.trained = self.reused = 0
        self._stores: dict[str, Store] = {}
        self._canonical: dict[str, dict[str, int]] = {}
        self._cached: dict[str, dict[tuple[str, int], float]] = {}

    def store_path(self, role: str) -> Path:
        return self.cache_dir / f"extra-{role}.sqlite"

    def evaluated_index(self, task: BenchTask, arch: str) -> int | None:
        """Position in ``task.archs`` of the evaluated cell equivalent to ``arch``, or None."""
        if task.name not in self._canonical:
            index: dict[str, int] = {}
            for i, a in enumerate(task.archs):
                index.setdefault(canonical_form(a), i)
            self._canonical[task.name] = index
        return self._canonical[task.name].get(canonical_form(arch))

    def lookup(self, task: BenchTask, arch: str) -> tuple[float, int | None]:
        """(true accuracy in %, index among the evaluated cells or None if it is not one)."""
        i = self.evaluated_index(task, arch)
        if i is not None:
            return float(task.accs[i]), i
        return self.trained_accuracy(task, arch), None

    def trained_accuracy(self, task: BenchTask, arch: str) -> float:
        """Seed-mean ``target`` of ``arch`` trained on ``task`` with its recipe and seeds (cached)."""
        cached = self._records(task)
        for seed in task.seeds:
            if (arch, seed) in cached:
                self.reused += 1
                continue
            d = task.images()
            rec = train_cell(arch, d.train_x, d.train_y, d.test_x, d.test_y, task.data.num_classes, task.recipe,
                             seed=seed, device=self.device)
            self._store(task.role).add_record(task.name, rec)
            cached[(arch, seed)] = float(rec["target"])
            self.trained += 1
        return float(np.mean([cached[(arch, s)] for s in task.seeds]))

    def _store(self, role: str) -> Store:
        if role not in self._stores:
            self._stores[role] = Store(self.store_path(role), role=role)
        return self._stores[role]

    def _records(self, task: BenchTask) -> dict[tuple[str, int], float]:
        """(arch, seed) -> target of the cached records of ``task`` (registers task and recipe once)."""
        if task.name not in self._cached:
            store = self._store(task.role)
            store.add_tasks([task.spec])
            h = store.add_recipe(task.recipe)
            self._cached[task.name] = {(r["arch"], int(r["seed"])): float(r["target"])
                                       for r in store.records(task_id=task.name, recipe_hash=h)}
        return self._cached[task.name]

    def close(self) -> None:
        for s in self._stores.values():
            s.close()
        self._stores.clear()

    def __enter__(self) -> "GroundTruth":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
