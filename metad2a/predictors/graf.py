"""GRAF: neural graph features + a random forest (Kadlecová et al., ICML 2024), for NB201 cells.

The cell is a DAG on nodes 0 (input) .. 3 (output) with the 6 edges of ``space.EDGES``, each
labelled with its op. ``none`` is a label like any other here (as in GRAF's NB201 features), so
subsets containing ``none`` see those edges too. The 191 features, in this order:

    [0:5]      op counts, in ``OPS`` order
    then 6 blocks of 31, one entry per non-empty op subset S (``OP_SUBSETS`` order: bitmask 1..31,
    bit i = OPS[i]):
    min_path   fewest edges on an input->output path whose edges all carry ops in S
               (NO_PATH = 4, one more than the longest possible path, when there is none)
    max_path   most edges on such a path (0 when there is none); GRAF's "max ops on a path"
    in_out     out-degree of the input node counting only S-edges (edges 0->1, 0->2, 0->3)
    out_in     in-degree of the output node counting only S-edges (edges 0->3, 1->3, 2->3)
    avg_out    mean out-degree over the 4 nodes, S-edges only
    avg_in     mean in-degree over the 4 nodes, S-edges only

5 + 31 * 6 = 191. Over all 4 nodes both averages equal |S-edges| / 4, exactly as in GRAF's
definition; they are kept so the layout matches the published 191. ``with_costs=True`` appends
FLOPs (M, 32x32 input) and params (M) of the C=16, N=5 network; both are linear in the conv counts
on NB201, so they add nothing a forest cannot already split on.
"""

from __future__ import annotations

import os

from functools import lru_cache
from typing import Sequence

import numpy as np

from metad2a.errors import DataError
from metad2a.predictors.base import DatasetSample
from metad2a.space import EDGES, OPS, op_counts, parse

NO_PATH = 4
# All input->output paths of the NB201 cell, as positions in EDGES: 0->3, 0->1->3, 0->2->3, 0->1->2->3.
PATHS: tuple[tuple[int, ...], ...] = ((3,), (0, 4), (1, 5), (0, 2, 5))
OP_SUBSETS: tuple[frozenset[str], ...] = tuple(
    frozenset(op for i, op in enumerate(OPS) if mask >> i & 1) for mask in range(1, 2 ** len(OPS))
)
SUBSET_FEATURES = ("min_path", "max_path", "in_out", "out_in", "avg_out", "avg_in")
NUM_FEATURES = len(OPS) + len(SUBSET_FEATURES) * len(OP_SUBSETS)  # 191

_FROM_INPUT = tuple(k for k, (s, _) in enumerate(EDGES) if s == 0)
_INTO_OUTPUT = tuple(k for k, (_, d) in enumerate(EDGES) if d == 3)


def feature_names(with_costs: bool = False) -> list[str]:
    """Names of the ``graf_features`` columns, e.g. ``min_path[nor_conv_1x1+nor_conv_3x3]``."""
    names = [f"count[{op}]" for op in OPS]
    for feat in SUBSET_FEATURES:
        names += [f"{feat}[{'+'.join(op for op in OPS if op in s)}]" for s in OP_SUBSETS]
    return names + (["flops", "params"] if with_costs else [])


def subset_features(ops: Sequence[str], allowed: frozenset[str]) -> tuple[float, ...]:
    """The 6 per-subset features of one cell (6 op names in EDGES order), in SUBSET_FEATURES order."""
    lengths = [len(p) for p in PATHS if all(ops[k] in allowed for k in p)]
    n_edges = sum(op in allowed for op in ops)
    return (
        min(lengths, default=NO_PATH),
        max(lengths, default=0),
        sum(ops[k] in allowed for k in _FROM_INPUT),
        sum(ops[k] in allowed for k in _INTO_OUTPUT),
        n_edges / 4,  # sum of out-degrees = sum of in-degrees = number of S-edges, over 4 nodes
        n_edges / 4,
    )


@lru_cache(maxsize=None)
def _costs(arch: str) -> tuple[float, float]:
    from metad2a.space.network import build_model, count_flops, count_params  # torch only when asked

    model = build_model(arch, 10)
    return count_flops(model, (3, 32, 32)) / 1e6, count_params(model) / 1e6


def graf_features(arch: str, with_costs: bool = False) -> np.ndarray:
    """GRAF features of one NB201 arch string: (191,) float64, or (193,) with FLOPs and params."""
    ops = parse(arch)
    per_subset = np.array([subset_features(ops, s) for s in OP_SUBSETS], dtype=np.float64)  # (31, 6)
    counts = np.array(list(op_counts(arch).values()), dtype=np.float64)
    feats = np.concatenate([counts, per_subset.T.reshape(-1)])  # feature-major, as feature_names()
    return np.concatenate([feats, _costs(arch)]) if with_costs else feats


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
    ``fit_db`` (the project's own database: ``predictor=graf``), or else on ``fit_cells`` cells
    of the shared NB201 table's ``fit_column`` (``predictor=graf_nb201_prior``).
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

        table = test_accuracy()
        if column not in next(iter(table.values())):
            raise DataError(f"unknown NB201 column {column!r}: use cifar100_test or imagenet16_120_test")
        pool = sorted(zero_cost_proxies()) if self.zc_proxies else sorted(table)
        archs = [pool[i] for i in np.random.default_rng(seed).choice(len(pool), min(n, len(pool)), replace=False)]
        return self.fit(archs, [table[a][column] for a in archs])

    def fit_database(self, db: str | os.PathLike, split: str = "train") -> "GRAFScorer":
        """Fit on the pooled records of ``split`` in a meta-training store, z-scored within each task."""
        from metad2a.database.store import Store

        if not os.path.isfile(db):
            raise DataError(f"record store {db} not found: collect it (python -m metad2a.collect), set "
                            "METAD2A_META_DATA, or use predictor=graf_nb201_prior")
        with Store(db) as store:
            per_task = list(store.seed_means(split).values())
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
