"""The benchmarked methods: each turns (task, seed) into a ``MethodRun``.

Every method has ``run(task, seed) -> MethodRun`` and a class attribute ``stochastic``
(the runner gives stochastic methods every seed, the others one). Checkpoints, tables and
forests load on first use, so building a method from its config never touches the disk.

    MetaD2A             generator samples ``num_samples`` cells, duplicates merged by canonical
                        form, the meta-predictor ranks them; pick the top
    MetaPredictorSearch a predictor scores all 6,466 unique cells; pick the top (the exhaustive
                        meta-predictor, or with predictor_agnostic.pt the dataset-agnostic one)
    GeneratorOnly       the generator's most frequent sample (canonical forms counted)
    TableLookup         the best cell of a published table column, no data used (NB201's
                        ImageNet16-120: ``nb201_in16_lookup``); the column's values score the
                        evaluated cells
    NASWOT              NASWOT over ``num_cells`` random unique cells, or over the evaluated cells
                        (at most ``max_cells`` of them: a fixed random subset)
    GRAF                GRAF-RF fitted on pooled meta-training records (accuracy z-scored within
                        each task; ``graf_rf``) or on an NB201 table column (``graf_in16``),
                        scoring the evaluated cells
    ANASOD              random search in op-distribution space over the evaluated cells
                        (``search.anasod_random_order``), a query answered by their ground truth;
                        ``budget`` cells trained
    RandomChoice        every cell of the task's population equally likely (the evaluated cells,
                        or all cells of a truth table): its metrics are exact expectations
    Oracle              the population's best cell; every one of them trained

Checkpoints: a task with its own ``checkpoint_dir`` (a held-out domain, scored by models
retrained without it) is scored with the file of the same name there; the others with the
configured file. NB201's CIFAR-100 column is meta-test truth: ``TableLookup`` and ``GRAF``
refuse it (``tasks.refuse_truth_column``).

What search seconds cover: the search itself with the task's features and images already in
memory. One-off costs shared by all tasks (meta-training, fitting the GRAF forest, loading
checkpoints and tables) are left out. Methods that train cells on the target (ANASOD, the
oracle) add the recorded training wall seconds of those cells, summed over the ground-truth
seeds (a truth table records none: they add nothing there). Scores over the evaluated cells
that are computed only for the rank metrics (MetaD2A's predictor on them) are not timed.
"""

from __future__ import annotations

import os
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from metad2a.bench.tasks import BenchTask, refuse_truth_column
from metad2a.errors import DataError, MetaD2AError
from metad2a.search import anasod_random_order
from metad2a.space import canonical_form, unique_cells


@dataclass
class MethodRun:
    """One method's choice on one task for one seed.

    picks:         the chosen cell, or several equally likely ones (``RandomChoice``: all
                   evaluated cells, so its metrics are exact expectations)
    search_s:      seconds the choice took (see the module docstring for what is included)
    cells_trained: cells trained on the target task to make the choice (0: zero-shot)
    scores:        (len(task.archs),) scores of the evaluated cells (higher is better), or None
    candidates:    how many cells the choice was made among
    """

    picks: list[str]
    search_s: float
    cells_trained: int = 0
    scores: np.ndarray | None = None
    candidates: int = 0


class Method(Protocol):
    stochastic: bool

    def run(self, task: BenchTask, seed: int) -> MethodRun: ...


@lru_cache(maxsize=1)
def _unique_cells() -> tuple[str, ...]:
    return tuple(unique_cells())


def dedup_canonical(archs: Sequence[str]) -> list[str]:
    """The first cell of each canonical form, in input order."""
    seen: dict[str, str] = {}
    for a in archs:
        seen.setdefault(canonical_form(a), a)
    return list(seen.values())


def most_frequent(archs: Sequence[str]) -> str:
    """The first-sampled cell of the most frequent canonical form (ties: the form sampled first)."""
    if not archs:
        raise MetaD2AError("no cells sampled: num_samples must be at least 1")
    forms = [canonical_form(a) for a in archs]
    top = Counter(forms).most_common(1)[0][0]  # most_common keeps first-seen order among ties
    return archs[forms.index(top)]


def _top(cells: Sequence[str], scores: np.ndarray) -> str:
    return cells[int(np.argmax(scores))]


def checkpoint_for(configured: str | os.PathLike, task: BenchTask) -> Path:
    """The checkpoint to use on ``task``: the same file name in its own folder if it has one, else ``configured``."""
    return Path(task.checkpoint_dir) / Path(configured).name if task.checkpoint_dir else Path(configured)


class _Loaded:
    """Loads each checkpoint file once (``make(path)``) and hands it out per task (``checkpoint_for``)."""

    def __init__(self, configured: str | os.PathLike, make):
        self.configured, self.make, self._by_path = configured, make, {}

    def __call__(self, task: BenchTask):
        path = checkpoint_for(self.configured, task)
        if path not in self._by_path:
            self._by_path[path] = self.make(path)
        return self._by_path[path]


def _predictor(path):
    from metad2a.predictors.meta import MetaPredictorScorer

    return MetaPredictorScorer(path)


def _generator(path):
    from metad2a.predictors.meta import MetaGenerator

    return MetaGenerator(path)


class MetaD2A:
    """Generator + meta-predictor: sample, merge duplicates, rank, pick the top."""

    stochastic = True

    def __init__(self, generator: str | os.PathLike, predictor: str | os.PathLike, num_samples: int = 100,
                 temperature: float = 1.0):
        self.generator_path, self.predictor_path = generator, predictor
        self.num_samples, self.temperature = int(num_samples), float(temperature)
        self.generator, self.predictor = _Loaded(generator, _generator), _Loaded(predictor, _predictor)

    def run(self, task: BenchTask, seed: int) -> MethodRun:
        sample, generator, predictor = task.sample(), self.generator(task), self.predictor(task)
        t0 = time.perf_counter()
        sampled = generator.sample_cells(sample.features, self.num_samples, self.temperature, seed=seed)
        cells = dedup_canonical(sampled)
        pick = _top(cells, predictor.score(cells, sample))
        search_s = time.perf_counter() - t0
        return MethodRun([pick], search_s, 0, predictor.score(task.archs, sample), len(cells))


class MetaPredictorSearch:
    """A meta-predictor (dataset-conditioned or agnostic) over all 6,466 unique cells."""

    stochastic = False

    def __init__(self, predictor: str | os.PathLike):
        self.predictor_path = predictor
        self.predictor = _Loaded(predictor, _predictor)

    def run(self, task: BenchTask, seed: int) -> MethodRun:
        sample, cells, predictor = task.sample(), _unique_cells(), self.predictor(task)
        t0 = time.perf_counter()
        pick = _top(cells, predictor.score(cells, sample))
        search_s = time.perf_counter() - t0
        return MethodRun([pick], search_s, 0, predictor.score(task.archs, sample), len(cells))


class GeneratorOnly:
    """The generator alone: its most frequent sample among ``num_samples``."""

    stochastic = True

    def __init__(self, generator: str | os.PathLike, num_samples: int = 100, temperature: float = 1.0):
        self.generator_path, self.num_samples, self.temperature = generator, int(num_samples), float(temperature)
        self.generator = _Loaded(generator, _generator)

    def run(self, task: BenchTask, seed: int) -> MethodRun:
        features, generator = task.sample().features, self.generator(task)
        t0 = time.perf_counter()
        sampled = generator.sample_cells(features, self.num_samples, self.temperature, seed=seed)
        pick = most_frequent(sampled)
        search_s = time.perf_counter() - t0
        return MethodRun([pick], search_s, 0, None, len(set(map(canonical_form, sampled))))


class NASWOT:
    """NASWOT on the task's train images, over ``num_cells`` random unique cells or the evaluated ones.

    The scored network is the recipe's (C, N) unless C / N are given: the ground truth is
    that network's accuracy, and at the mini recipe it is ~10x cheaper than C=16, N=5 (a task
    whose truth is a table carries the truth recipe for this: C=8, N=2, 16 px). With
    ``pool="evaluated"`` at most ``max_cells`` of them are scored: when a task has more (CIFAR-100's
    6,466), a fixed random subset (the same for every seed), and its Spearman is over that subset.
    The seed draws the random cells, the image batch and the initial weights.
    """

    stochastic = True
    POOLS = ("random", "evaluated")

    def __init__(self, pool: str = "random", num_cells: int = 100, batch_size: int = 128, C: int | None = None,
                 N: int | None = None, device: str = "cpu", max_cells: int | None = None):
        if pool not in self.POOLS:
            raise MetaD2AError(f"NASWOT pool must be one of {self.POOLS}, got {pool!r}")
        self.pool, self.num_cells, self.batch_size = pool, int(num_cells), int(batch_size)
        self.C, self.N, self.device = C, N, device
        self.max_cells = None if max_cells is None else int(max_cells)

    def evaluated_subset(self, n: int) -> np.ndarray:
        """Indices of the evaluated cells scored: all ``n``, or a fixed random ``max_cells`` of them (sorted)."""
        if self.max_cells is None or n <= self.max_cells:
            return np.arange(n)
        return np.sort(np.random.default_rng(0).choice(n, self.max_cells, replace=False))

    def run(self, task: BenchTask, seed: int) -> MethodRun:
        from metad2a.predictors.naswot import NASWOTScorer

        sample = task.sample(with_images=True)
        if self.pool == "evaluated":
            subset = self.evaluated_subset(len(task.archs))
            cells = [task.archs[i] for i in subset]
        else:
            pool = _unique_cells()
            cells = [pool[i] for i in np.random.default_rng(seed).choice(len(pool), self.num_cells, replace=False)]
        scorer = NASWOTScorer(self.batch_size, self.C or task.recipe.C, self.N or task.recipe.N, seed, self.device)
        t0 = time.perf_counter()
        scores = scorer.score(cells, sample)
        pick = _top(cells, scores)
        search_s = time.perf_counter() - t0
        full = None
        if self.pool == "evaluated":
            full = np.full(len(task.archs), np.nan)
            full[subset] = scores
        return MethodRun([pick], search_s, 0, full, len(cells))


class GRAF:
    """GRAF-RF scoring the evaluated cells, fitted on one of two things:

    - the pooled meta-training records of ``split`` in the store ``db`` (``graf_rf``): accuracy
      z-scored within each (task, recipe), tasks of ``exclude_recipes`` left out (the imported
      NB201 table is not our database's own runs); on a held-out domain's task, that domain's
      tasks are left out too (``leave_out_held_out``), as its models never saw them;
    - ``fit_cells`` cells of the NB201 table's ``fit_column`` (``graf_in16``: ImageNet16-120).
      The CIFAR-100 column is meta-test truth and is refused.

    The forest's seed is the run's seed; each (seed, left-out source) forest is fitted once and reused.
    """

    stochastic = True

    def __init__(self, db: str | os.PathLike | None = None, split: str = "train", n_estimators: int = 200,
                 recipe_hash: str | None = None, n_jobs: int = 1, fit_column: str | None = None,
                 fit_cells: int = 1024, exclude_recipes: Sequence[str] = (), leave_out_held_out: bool = True,
                 data_root: str | os.PathLike | None = None):
        refuse_truth_column(fit_column, "GRAF")
        if fit_column is None and db is None:
            raise MetaD2AError("GRAF needs db= (a meta-training store) or fit_column= (an NB201 table column)")
        self.db, self.split, self.recipe_hash = db, split, recipe_hash
        self.n_estimators, self.n_jobs = int(n_estimators), int(n_jobs)
        self.fit_column, self.fit_cells, self.data_root = fit_column, int(fit_cells), data_root
        self.exclude_recipes, self.leave_out_held_out = tuple(exclude_recipes), bool(leave_out_held_out)
        self._forests: dict[tuple[int, str | None], object] = {}

    @cached_property
    def table_data(self) -> tuple[list[str], np.ndarray]:
        """``fit_cells`` cells of the table column (a seeded uniform draw) and their accuracies."""
        from metad2a.nb201_tables import test_accuracy

        table = test_accuracy(self.data_root)
        pool = sorted(table)
        pick = np.random.default_rng(0).choice(len(pool), min(self.fit_cells, len(pool)), replace=False)
        return [pool[i] for i in pick], np.array([table[pool[i]][self.fit_column] for i in pick])

    @cached_property
    def store_data(self) -> list[tuple[str, list[str], np.ndarray]]:
        """(source, archs, seed-mean targets) per (task, recipe) of ``split``, ``exclude_recipes`` left out."""
        from metad2a.database.store import Store

        if not Path(self.db).is_file():
            raise DataError(f"record store {self.db} not found: collect it (python -m metad2a.collect) or set "
                            "meta_data_dir / datasets.meta_train_db")
        with Store(self.db, role="meta-train", readonly=True) as store:
            names = {h: spec.get("name", h) for h, spec in store.recipes().items()}
            out = []
            for spec in store.tasks(self.split):
                per: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
                for r in store.records(task_id=spec.task_id, recipe_hash=self.recipe_hash):
                    if names[r["recipe_hash"]] not in self.exclude_recipes:
                        per[r["recipe_hash"]][r["arch"]].append(float(r["target"]))
                for cells in per.values():
                    archs = sorted(cells)
                    out.append((spec.source, archs, np.array([np.mean(cells[a]) for a in archs])))
        if not out:
            raise DataError(f"{self.db} has no records of {self.split}-split tasks (recipes other than "
                            f"{list(self.exclude_recipes)}) to fit GRAF on: collect them first")
        return out

    def training_data(self, leave_out: str | None = None) -> tuple[list[str], np.ndarray]:
        """(archs, targets) the forest fits on, without the tasks of source ``leave_out``."""
        if self.fit_column is not None:
            return self.table_data
        from metad2a.predictors.graf import pooled_zscores

        kept = [(a, y) for src, a, y in self.store_data if src != leave_out]
        if not kept:
            raise DataError(f"{self.db} has no {self.split}-split records outside {leave_out} to fit GRAF on")
        return pooled_zscores(kept)

    def forest(self, seed: int, leave_out: str | None = None):
        from metad2a.predictors.graf import GRAFScorer

        key = (seed, leave_out if self.fit_column is None else None)
        if key not in self._forests:
            archs, y = self.training_data(key[1])
            self._forests[key] = GRAFScorer(self.n_estimators, seed=seed, n_jobs=self.n_jobs).fit(archs, y)
        return self._forests[key]

    def run(self, task: BenchTask, seed: int) -> MethodRun:
        forest = self.forest(seed, task.held_out_source if self.leave_out_held_out else None)
        t0 = time.perf_counter()
        scores = forest.score(task.archs)
        pick = _top(task.archs, scores)
        search_s = time.perf_counter() - t0
        return MethodRun([pick], search_s, 0, scores, len(task.archs))


class TableLookup:
    """The best cell of a published table's ``column`` (no data of the task used).

    ``nb201_in16_lookup``: NB201's ImageNet16-120 column, the baseline a practitioner tries
    first. Its scores over the evaluated cells are the column's values (the cell's own row, or
    one of the same canonical form), so it has a Spearman too. Deterministic. The CIFAR-100
    column is meta-test truth and is refused.
    """

    stochastic = False

    def __init__(self, column: str = "imagenet16_120_test", data_root: str | os.PathLike | None = None):
        refuse_truth_column(column, "TableLookup")
        self.column, self.data_root = column, data_root

    @cached_property
    def table(self):
        """A ``TruthTable`` of the column (read once)."""
        from metad2a.bench.tasks import TruthTable
        from metad2a.nb201_tables import test_accuracy

        rows = sorted(test_accuracy(self.data_root).items(), key=lambda kv: kv[1]["index"])
        if self.column not in rows[0][1]:
            raise DataError(f"unknown NB201 column {self.column!r}: use imagenet16_120_test")
        return TruthTable(f"nb201-{self.column}", [a for a, _ in rows], np.array([r[self.column] for _, r in rows]))

    def run(self, task: BenchTask, seed: int) -> MethodRun:
        table = self.table
        t0 = time.perf_counter()
        pick = table.archs[int(np.argmax(table.accs))]  # ties: the lowest NB201 index
        search_s = time.perf_counter() - t0
        scores = np.array([table.accs[table.index(a)] for a in task.archs])
        return MethodRun([pick], search_s, 0, scores, len(table.archs))


class ANASOD:
    """ANASOD random search over the evaluated cells with ``budget`` queries; the best queried cell."""

    stochastic = True

    def __init__(self, budget: int = 10):
        if int(budget) < 1:
            raise MetaD2AError(f"ANASOD budget must be at least 1, got {budget}")
        self.budget = int(budget)

    def run(self, task: BenchTask, seed: int) -> MethodRun:
        t0 = time.perf_counter()
        queried = anasod_random_order(task.archs, self.budget, np.random.default_rng(seed))
        best = max(queried, key=lambda i: task.accs[i])
        search_s = time.perf_counter() - t0 + sum(task.train_seconds.get(task.archs[i], 0.0) for i in queried)
        return MethodRun([task.archs[best]], search_s, len(queried), None, len(queried))


class RandomChoice:
    """A uniformly random cell of the task's population (its evaluated cells, or every cell of its truth
    table), reported exactly as the expectation over all of them."""

    stochastic = False

    def run(self, task: BenchTask, seed: int) -> MethodRun:
        cells = list(task.population_archs)
        return MethodRun(cells, 0.0, 0, None, len(cells))


class Oracle:
    """The population's best cell (the best evaluated cell, or the table's best), at the cost of training
    every one of them."""

    stochastic = False

    def run(self, task: BenchTask, seed: int) -> MethodRun:
        cells = task.population_archs
        accs = task.table.accs if task.table is not None else task.accs
        pick = cells[int(np.argmax(accs))]
        return MethodRun([pick], float(sum(task.train_seconds.values())), len(cells), None, len(cells))
