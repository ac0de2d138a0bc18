"""GRAF-RF: a random forest on GRAF's graph features (``metad2a.space.graf``), for NB201 cells.

``graf_matrix`` stacks the features of many cells, optionally with FLOPs/params and columns of
the shared NB201 zero-cost proxy table; ``GRAFScorer`` fits a forest on them and scores cells.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from metad2a.errors import DataError
from metad2a.predictors.base import DatasetSample
from metad2a.space.graf import NUM_FEATURES, graf_features


def graf_matrix(archs: Sequence[str], with_costs: bool = False, zc_proxies: Sequence[str] = ()) -> np.ndarray:
    """Stacked features: (len(archs), 191 [+2] [+ len(zc_proxies)]).

    ``zc_proxies`` names columns of the shared NB201 zero-cost proxy table (computed on
    ImageNet16-120, 9,445 cells); every arch must be in that table.
    """
    x = np.stack([graf_features(a, with_costs) for a in archs]) if len(archs) else np.zeros((0, NUM_FEATURES))
    if not zc_proxies:
        return x
    from metad2a.nb201_tables import zero_cost_proxies

    table = zero_cost_proxies()
    missing = [a for a in archs if a not in table]
    if missing:
        raise DataError(f"{len(missing)} cells (e.g. {missing[0]}) are not in the zero-cost proxy table; "
                        "drop zc_proxies or score only cells left unchanged by zero_unreachable")
    unknown = [p for p in zc_proxies if p not in next(iter(table.values()))]
    if unknown:
        raise DataError(f"unknown zero-cost proxies {unknown}: choose from {sorted(next(iter(table.values())))}")
    zc = np.array([[table[a][p] for p in zc_proxies] for a in archs], dtype=np.float64)
    return np.concatenate([x, zc], axis=1)


def pooled_zscores(per_task: Sequence[tuple[Sequence[str], Sequence[float]]]) -> tuple[list[str], np.ndarray]:
    """Every (cell, accuracy) of several tasks pooled, accuracy z-scored within its task.

    per_task: (archs, accs) per task. Returns archs (M,) and y (M,); a task with constant
    accuracy contributes zeros. The z-score removes task difficulty, which a cell-only model
    cannot explain anyway.
    """
    archs: list[str] = []
    ys: list[np.ndarray] = []
    for task_archs, accs in per_task:
        a = np.asarray(accs, dtype=float)
        sd = a.std()
        ys.append((a - a.mean()) / sd if sd > 0 else np.zeros_like(a))
        archs += list(task_archs)
    return archs, np.concatenate(ys) if ys else np.zeros(0)


class GRAFScorer:
    """Random forest on GRAF features; higher predicted accuracy is better.

    Train with ``fit(archs, accuracies)``. An unfitted scorer fits itself on first use:
    on the pooled, within-task z-scored records of the ``fit_split`` tasks of the record store
    ``fit_db`` (the project's own runs: ``predictor=graf``; the imported NB201 table task is left
    out), or else on ``fit_cells`` cells of the shared NB201 table's ``fit_column``
    (``predictor=graf_in16``: ImageNet16-120; the CIFAR-100 column is refused, it is meta-test truth).
    """

    name = "graf"

    def __init__(self, n_estimators: int = 200, with_costs: bool = False, zc_proxies: Sequence[str] = (),
                 fit_column: str | None = None, fit_cells: int = 1024, seed: int = 0, n_jobs: int = 1,
                 fit_db: str | os.PathLike | None = None, fit_split: str = "train", name: str = "graf"):
        from sklearn.ensemble import RandomForestRegressor

        self.with_costs, self.zc_proxies = with_costs, tuple(zc_proxies)
        self.fit_column, self.fit_cells, self.seed = fit_column, fit_cells, seed
        self.fit_db, self.fit_split, self.name = fit_db, fit_split, name
        self.forest = RandomForestRegressor(n_estimators=n_estimators, random_state=seed, n_jobs=n_jobs)
        self.fitted = False

    def features(self, archs: Sequence[str]) -> np.ndarray:
        """(len(archs), D) inputs of the forest."""
        return graf_matrix(archs, self.with_costs, self.zc_proxies)

    def fit(self, archs: Sequence[str], accuracies: Sequence[float]) -> "GRAFScorer":
        """Fit the forest on cells and their accuracies (any scale; only the ranking of scores matters)."""
        y = np.asarray(accuracies, dtype=np.float64)
        if len(archs) != len(y) or len(y) < 2:
            raise DataError(f"fit needs >= 2 cells with one accuracy each, got {len(archs)} cells, {len(y)} values")
        self.forest.fit(self.features(archs), y)
        self.fitted = True
        return self

    def fit_nb201(self, column: str, n: int, seed: int = 0) -> "GRAFScorer":
        """Fit on ``n`` cells drawn uniformly (seeded) from the shared NB201 table's ``column``."""
        from metad2a.nb201_tables import test_accuracy, zero_cost_proxies

        if column == "cifar100_test":  # refused before any data is read
            raise DataError("NB201's cifar100_test column is meta-test truth: fit on imagenet16_120_test instead")
        table = test_accuracy()
        if column not in next(iter(table.values())):
            raise DataError(f"unknown NB201 column {column!r}: use imagenet16_120_test")
        pool = sorted(zero_cost_proxies()) if self.zc_proxies else sorted(table)
        archs = [pool[i] for i in np.random.default_rng(seed).choice(len(pool), min(n, len(pool)), replace=False)]
        return self.fit(archs, [table[a][column] for a in archs])

    def fit_database(self, db: str | os.PathLike, split: str = "train") -> "GRAFScorer":
        """Fit on the pooled records of ``split`` in a meta-training store, z-scored within each task.

        Only the project's own runs: the imported NB201 table task is left out (``graf_in16`` fits on it).
        """
        from metad2a.database.nb201_import import NB201_TASK_ID
        from metad2a.database.store import Store

        if not os.path.isfile(db):
            raise DataError(f"record store {db} not found: collect it (python -m metad2a.collect), set "
                            "METAD2A_META_DATA, or use predictor=graf_in16")
        with Store(db, readonly=True) as store:
            per_task = [v for t, v in store.seed_means(split).items() if t != NB201_TASK_ID]
        if not per_task:
            raise DataError(f"{db} has no records of {split}-split tasks to fit GRAF on")
        return self.fit(*pooled_zscores(per_task))

    def score(self, archs: Sequence[str], dataset: DatasetSample | None = None) -> np.ndarray:
        """Predicted accuracy of each cell: (len(archs),) float64. ``dataset`` is not used."""
        if not self.fitted:
            if self.fit_db is not None:
                self.fit_database(self.fit_db, self.fit_split)
            elif self.fit_column is not None:
                self.fit_nb201(self.fit_column, self.fit_cells, self.seed)
            else:
                raise DataError("GRAFScorer is not fitted: call fit(archs, accuracies), or set fit_db or fit_column")
        if len(archs) == 0:
            return np.zeros(0)
        return self.forest.predict(self.features(archs)).astype(np.float64)
