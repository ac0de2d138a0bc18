"""The benchmarked methods: each turns (task, seed) into a ``MethodRun``.

Every method has ``run(task, seed) -> MethodRun`` and a class attribute ``stochastic``
(the runner gives stochastic methods every seed, the others one). Checkpoints and forests
load on first use, so building a method from its config never touches the disk.

    MetaD2A             generator samples ``num_samples`` cells, duplicates merged by canonical
                        form, the meta-predictor ranks them; pick the top
    MetaPredictorSearch a predictor scores all 6,466 unique cells; pick the top (the exhaustive
                        meta-predictor, or with predictor_agnostic.pt the dataset-agnostic one)
    GeneratorOnly       the generator's most frequent sample (canonical forms counted)
    NASWOT              NASWOT over ``num_cells`` random unique cells, or over the evaluated cells
    GRAF                GRAF-RF fitted on pooled meta-training records (accuracy z-scored within
                        each task), scoring the evaluated cells
    ANASOD              random search in op-distribution space over the evaluated cells
                        (``search.anasod_random_order``), a query answered by their ground truth;
                        ``budget`` cells trained
    RandomChoice        every evaluated cell equally likely: its metrics are exact expectations
    Oracle              the best evaluated cell; every evaluated cell trained

What search seconds cover: the search itself with the task's features and images already in
memory. One-off costs shared by all tasks (meta-training, fitting the GRAF forest, loading
checkpoints) are left out. Methods that train cells on the target (ANASOD, the oracle) add
the recorded training wall seconds of those cells, summed over the ground-truth seeds.
Scores over the evaluated cells that are computed only for the rank metrics (MetaD2A's
predictor on them) are not timed.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Protocol, Sequence

import numpy as np

from metad2a.bench.tasks import BenchTask
from metad2a.errors import MetaD2AError
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


class MetaD2A:
    """Generator + meta-predictor: sample, merge duplicates, rank, pick the top."""

    stochastic = True

    def __init__(self, generator: str | os.PathLike, predictor: str | os.PathLike, num_samples: int = 100,
                 temperature: float = 1.0):
        self.generator_path, self.predictor_path = generator, predictor
        self.num_samples, self.temperature = int(num_samples), float(temperature)

    @cached_property
    def generator(self):
        from metad2a.predictors.meta import MetaGenerator

        return MetaGenerator(self.generator_path)

    @cached_property
    def predictor(self):
        from metad2a.predictors.meta import MetaPredictorScorer

        return MetaPredictorScorer(self.predictor_path)

    def run(self, task: BenchTask, seed: int) -> MethodRun:
        sample = task.sample()
        t0 = time.perf_counter()
        sampled = self.generator.sample_cells(sample.features, self.num_samples, self.temperature, seed=seed)
        cells = dedup_canonical(sampled)
        pick = _top(cells, self.predictor.score(cells, sample))
        search_s = time.perf_counter() - t0
        return MethodRun([pick], search_s, 0, self.predictor.score(task.archs, sample), len(cells))


class MetaPredictorSearch:
    """A meta-predictor (dataset-conditioned or agnostic) over all 6,466 unique cells."""

    stochastic = False

    def __init__(self, predictor: str | os.PathLike):
        self.predictor_path = predictor

    @cached_property
    def predictor(self):
        from metad2a.predictors.meta import MetaPredictorScorer

        return MetaPredictorScorer(self.predictor_path)

    def run(self, task: BenchTask, seed: int) -> MethodRun:
        sample, cells = task.sample(), _unique_cells()
        t0 = time.perf_counter()
        pick = _top(cells, self.predictor.score(cells, sample))
        search_s = time.perf_counter() - t0
        return MethodRun([pick], search_s, 0, self.predictor.score(task.archs, sample), len(cells))


class GeneratorOnly:
    """The generator alone: its most frequent sample among ``num_samples``."""

    stochastic = True

    def __init__(self, generator: str | os.PathLike, num_samples: int = 100, temperature: float = 1.0):
        self.generator_path, self.num_samples, self.temperature = generator, int(num_samples), float(temperature)

    @cached_property
    def generator(self):
        from metad2a.predictors.meta import MetaGenerator

        return MetaGenerator(self.generator_path)

    def run(self, task: BenchTask, seed: int) -> MethodRun:
        features = task.sample().features
        t0 = time.perf_counter()
        sampled = self.generator.sample_cells(features, self.num_samples, self.temperature, seed=seed)
        pick = most_frequent(sampled)
        search_s = time.perf_counter() - t0
        return MethodRun([pick], search_s, 0, None, len(set(map(canonical_form, sampled))))


class NASWOT:
    """NASWOT on the task's train images, over ``num_cells`` random unique cells or the evaluated ones.

    The scored network is the recipe's (C, N) unless C / N are given: the ground truth is
    that network's accuracy, and at the mini recipe it is ~10x cheaper than C=16, N=5.
    The seed draws the random cells, the image batch and the initial weights.
    """

    stochastic = True
    POOLS = ("random", "evaluated")

    def __init__(self, pool: str = "random", num_cells: int = 100, batch_size: int = 128, C: int | None = None,
                 N: int | None = None, device: str = "cpu"):
        if pool not in self.POOLS:
            raise MetaD2AError(f"NASWOT pool must be one of {self.POOLS}, got {pool!r}")
        self.pool, self.num_cells, self.batch_size = pool, int(num_cells), int(batch_size)
        self.C, self.N, self.device = C, N, device

    def run(self, task: BenchTask, seed: int) -> MethodRun:
        from metad2a.predictors.naswot import NASWOTScorer

        sample = task.sample(with_images=True)
        if self.pool == "evaluated":
            cells = list(task.archs)
        else:
            pool = _unique_cells()
            cells = [pool[i] for i in np.random.default_rng(seed).choice(len(pool), self.num_cells, replace=False)]
        scorer = NASWOTScorer(self.batch_size, self.C or task.recipe.C, self.N or task.recipe.N, seed, self.device)
        t0 = time.perf_counter()
        scores = scorer.score(cells, sample)
        pick = _top(cells, scores)
        search_s = time.perf_counter() - t0
        return MethodRun([pick], search_s, 0, scores if self.pool == "evaluated" else None, len(cells))


class GRAF:
    """GRAF-RF fitted on the pooled meta-training records of ``split``, scoring the evaluated cells.

    With ``fit_column`` (``graf_nb201_prior``) it fits instead on ``fit_cells`` cells of that
    column of the shared NB201 table: the optional nb201-prior, reported beside the default.
    The forest's seed is the run's seed; each seed's forest is fitted once and reused on all tasks.
    """

    stochastic = True

    def __init__(self, db: str | os.PathLike, features: str | os.PathLike, split: str = "train",
                 n_estimators: int = 200, recipe_hash: str | None = None, n_jobs: int = 1,
                 fit_column: str | None = None, fit_cells: int = 1024):
        self.db, self.features, self.split, self.recipe_hash = db, features, split, recipe_hash
        self.n_estimators, self.n_jobs = int(n_estimators), int(n_jobs)
        self.fit_column, self.fit_cells = fit_column, int(fit_cells)
        self._forests: dict[int, object] = {}

    @cached_property
    def training_data(self) -> tuple[list[str], np.ndarray]:
        from metad2a.predictors.graf import pooled_zscores

        if self.fit_column is not None:
            from metad2a.nb201_tables import test_accuracy

            table = test_accuracy()
            pool = sorted(table)
            pick = np.random.default_rng(0).choice(len(pool), min(self.fit_cells, len(pool)), replace=False)
            return [pool[i] for i in pick], np.array([table[pool[i]][self.fit_column] for i in pick])
        from metad2a.database.features_store import load_task_data

        tasks = load_task_data(self.db, self.features, self.split, recipe_hash=self.recipe_hash)
        return pooled_zscores([(t.archs, t.accs) for t in tasks])

    def forest(self, seed: int):
        from metad2a.predictors.graf import GRAFScorer

        if seed not in self._forests:
            archs, y = self.training_data
            self._forests[seed] = GRAFScorer(self.n_estimators, seed=seed, n_jobs=self.n_jobs).fit(archs, y)
        return self._forests[seed]

    def run(self, task: BenchTask, seed: int) -> MethodRun:
        forest = self.forest(seed)
        t0 = time.perf_counter()
        scores = forest.score(task.archs)
        pick = _top(task.archs, scores)
        search_s = time.perf_counter() - t0
        return MethodRun([pick], search_s, 0, scores, len(task.archs))


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
    """A uniformly random evaluated cell, reported exactly as the expectation over all of them."""

    stochastic = False

    def run(self, task: BenchTask, seed: int) -> MethodRun:
        return MethodRun(list(task.archs), 0.0, 0, None, len(task.archs))


class Oracle:
    """The best evaluated cell, at the cost of training every evaluated cell."""

    stochastic = False

    def run(self, task: BenchTask, seed: int) -> MethodRun:
        pick = task.archs[int(np.argmax(task.accs))]
        return MethodRun([pick], float(sum(task.train_seconds.values())), len(task.archs), None, len(task.archs))
