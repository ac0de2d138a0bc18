"""The true accuracy of any picked cell on a benchmark task, trained at most once.

On a task whose truth is a table (``BenchTask.table``, e.g. NB201's CIFAR-100 column), every
cell is looked up: the cell's own row, or a row of the same canonical form, never trained. A
cell missing from a partial table (CIFAR-10's 200 curve cells) has no truth: nan, never a
stand-in.

On a task with trained records, a pick whose canonical form (``metad2a.space.canonical_form``,
the NB201 6,466-class convention) equals an evaluated cell's computes the same function, so it
takes that cell's ground truth. Any other pick is trained exactly as the task's evaluated
cells were (``train_cell`` with the task's recipe, once per ground-truth seed) and scored by
the seed mean of ``target``. Those records go into one cache store per store role and recipe,
``<cache_dir>/extra-<role>-<recipe name>-<recipe hash>.sqlite`` (database v1's and v2's
meta-test tasks share names but not specs): every record is committed as soon as it is
trained, so a rerun (or a resumed crash) trains nothing twice. The stores of ``meta_data/``
are never written.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from metad2a.bench.tasks import BenchTask
from metad2a.database.store import Store
from metad2a.recipe import Recipe, recipe_hash, train_cell
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
        self._stores: dict[Path, Store] = {}
        self._canonical: dict[str, dict[str, int]] = {}
        self._cached: dict[str, dict[tuple[str, int], float]] = {}

    def store_path(self, role: str, recipe: Recipe) -> Path:
        """The cache store of picks trained on ``role`` tasks with ``recipe``."""
        return self.cache_dir / f"extra-{role}-{recipe.name}-{recipe_hash(recipe)}.sqlite"

    def evaluated_index(self, task: BenchTask, arch: str) -> int | None:
        """Position in ``task.archs`` of the evaluated cell equivalent to ``arch``, or None."""
        if task.name not in self._canonical:
            index: dict[str, int] = {}
            for i, a in enumerate(task.archs):
                index.setdefault(canonical_form(a), i)
            self._canonical[task.name] = index
        return self._canonical[task.name].get(canonical_form(arch))

    def lookup(self, task: BenchTask, arch: str) -> tuple[float, int | None]:
        """(true accuracy in %, index in ``task.population_archs`` or None if it is not one of them).

        The population is the table's cells for a table task, else the evaluated cells. A cell
        missing from a partial table gives (nan, None); from a complete one, a DataError.
        """
        if task.table is not None:
            i = task.table.find(arch) if not task.table.complete else task.table.index(arch)
            return (float("nan"), None) if i is None else (float(task.table.accs[i]), i)
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
            self._store(task).add_record(task.name, rec)
            cached[(arch, seed)] = float(rec["target"])
            self.trained += 1
        return float(np.mean([cached[(arch, s)] for s in task.seeds]))

    def _store(self, task: BenchTask) -> Store:
        path = self.store_path(task.role, task.recipe)
        if path not in self._stores:
            self._stores[path] = Store(path, role=task.role)
        return self._stores[path]

    def _records(self, task: BenchTask) -> dict[tuple[str, int], float]:
        """(arch, seed) -> target of the cached records of ``task`` (registers task and recipe once)."""
        if task.name not in self._cached:
            store = self._store(task)
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
