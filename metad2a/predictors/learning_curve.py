"""Accuracy prediction from the first epochs of training, NAAP-440 style (Hakim, 2022).

Features are a network's static description followed by per-epoch statistics of its first
``k`` epochs; a random forest of 200 trees regresses the final (or maximum) accuracy:

    x = [scheme features (S,) | epoch 1..k statistics (k * M,)]  ->  RandomForest  ->  y

Three feature builders, all pure (plain lists / numpy in, ``(X, column_names)`` out):

- ``naap440_features``: rows of the NAAP-440 CSV; the scheme columns (params, MACs, layers,
  ...) and ``e<i>LossMean, e<i>LossMedian, e<i>Accuracy`` for i = 1..k.
- ``nb201_curve_features``: NB201 cells; op counts and the first k epochs of the
  valid (optionally also train) accuracy curves.
- ``own_curve_features``: the project's collected curves; op counts and the first k epochs
  of train loss and test accuracy.

``LearningCurveScorer`` wraps the cell-level builders behind the ``Scorer`` protocol: fit it
on cells with full curves, register partial curves of new cells, then score them.
"""

from __future__ import annotations

import csv
import os
import re
from typing import Mapping, Sequence

import numpy as np
from sklearn.ensemble import RandomForestRegressor

from metad2a.errors import DataError, MetaD2AError
from metad2a.predictors.base import DatasetSample
from metad2a.space import OPS, op_counts

NAAP_EPOCH_STATS: tuple[str, ...] = ("LossMean", "LossMedian", "Accuracy")
NAAP_ID, NAAP_SPLIT, NAAP_TARGET = "ModelId", "IsTest", "MaxAccuracy"
_EPOCH_COLUMN = re.compile(r"^e(\d+)([A-Za-z]+)$")

Curves = Mapping[str, Sequence[Sequence[float]]]  # curve name -> (N,) per-epoch lists


def make_forest(seed: int = 0, n_estimators: int = 200) -> RandomForestRegressor:
    """The NAAP-440 regressor: a seeded random forest (200 trees by default)."""
    return RandomForestRegressor(n_estimators=n_estimators, random_state=seed, n_jobs=1)


def first_fraction(n_epochs: int, fraction: float = 0.1) -> int:
    """How many leading epochs make up ``fraction`` of a run (at least 1): 200 -> 20."""
    return max(1, int(round(n_epochs * fraction)))


# --- NAAP-440 CSV ---------------------------------------------------------------------------

def read_csv_rows(path: str | os.PathLike) -> list[dict[str, str]]:
    """Rows of a CSV file as dicts of strings (header -> cell)."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def naap440_scheme_columns(header: Sequence[str]) -> list[str]:
    """Header columns that describe the network: neither id, split, target nor e<i><stat>."""
    return [c for c in header if c not in (NAAP_ID, NAAP_SPLIT, NAAP_TARGET) and not _EPOCH_COLUMN.match(c)]


def naap440_features(
    rows: Sequence[Mapping[str, str]],
    k: int,
    stats: Sequence[str] = NAAP_EPOCH_STATS,
    scheme: bool = True,
) -> tuple[np.ndarray, list[str]]:
    """NAAP-440 rows -> X: (N, S + k * len(stats)) float, with its column names.

    Scheme columns come first in file order, then ``e1<stat>..`` epoch by epoch.
    """
    if not rows:
        raise DataError("no NAAP-440 rows given: read naap440.csv with read_csv_rows() first")
    header = list(rows[0].keys())
    cols = (naap440_scheme_columns(header) if scheme else []) + [f"e{e}{s}" for e in range(1, k + 1) for s in stats]
    missing = [c for c in cols if c not in rows[0]]
    if k < 1 or missing:
        raise DataError(f"k={k} needs NAAP-440 columns {missing[:3]}...: use 1 <= k <= the epochs in the file")
    return np.array([[float(r[c]) for c in cols] for r in rows], dtype=float), cols


def naap440_target(rows: Sequence[Mapping[str, str]]) -> np.ndarray:
    """(N,) the max accuracy each network reached over its full run."""
    return np.array([float(r[NAAP_TARGET]) for r in rows], dtype=float)


def naap440_is_test(rows: Sequence[Mapping[str, str]]) -> np.ndarray:
    """(N,) bool, True for the 40 held-out test networks."""
    return np.array([r[NAAP_SPLIT].strip() in ("1", "True", "true") for r in rows], dtype=bool)


# --- NB201 cells with learning curves ---------------------------------------------------------

def curve_features(archs: Sequence[str], curves: Curves, k: int) -> tuple[np.ndarray, list[str]]:
    """Cells and their curves -> X: (N, 5 + k * len(curves)) float, with its column names.

    Columns: ``count_<op>`` for each op in ``OPS``, then ``<name>_e<i>`` for i = 1..k of
    each curve in the mapping's order. Curves may be longer than k (only the first k are
    read) but not shorter.
    """
    n = len(archs)
    for name, cs in curves.items():
        if len(cs) != n:
            raise DataError(f"curve {name!r} has {len(cs)} entries for {n} archs: pass one curve per arch")
        short = [i for i, c in enumerate(cs) if len(c) < k]
        if k < 1 or short:
            raise DataError(f"curve {name!r} of arch #{short[0] if short else 0} is shorter than k={k}: lower k")
    names = [f"count_{op}" for op in OPS] + [f"{name}_e{e}" for name in curves for e in range(1, k + 1)]
    X = np.empty((n, len(names)), dtype=float)
    for i, arch in enumerate(archs):
        oc = op_counts(arch)
        X[i] = [oc[op] for op in OPS] + [float(v) for cs in curves.values() for v in cs[i][:k]]
    return X, names


def nb201_curve_features(
    archs: Sequence[str],
    valid_acc_curves: Sequence[Sequence[float]],
    k: int,
    train_acc_curves: Sequence[Sequence[float]] | None = None,
) -> tuple[np.ndarray, list[str]]:
    """NB201 cells -> X: (N, 5 + k) op counts + valid acc of epochs 1..k (+ k train acc when given)."""
    curves = {"valid_acc": valid_acc_curves}
    if train_acc_curves is not None:
        curves["train_acc"] = train_acc_curves
    return curve_features(archs, curves, k)


def own_curve_features(
    archs: Sequence[str],
    train_loss_curves: Sequence[Sequence[float]],
    test_acc_curves: Sequence[Sequence[float]],
    k: int,
) -> tuple[np.ndarray, list[str]]:
    """Collected runs -> X: (N, 5 + 2k) op counts + train loss and test acc of epochs 1..k.

    The usual target is each run's final test accuracy (``final_values(test_acc_curves)``)
    and ``k = first_fraction(n_epochs)``.
    """
    return curve_features(archs, {"train_loss": train_loss_curves, "test_acc": test_acc_curves}, k)


def final_values(curves: Sequence[Sequence[float]]) -> np.ndarray:
    """(N,) the last value of each curve."""
    if any(len(c) == 0 for c in curves):
        raise DataError("an empty curve has no final value: drop runs that recorded no epochs")
    return np.array([float(c[-1]) for c in curves], dtype=float)


# --- Scorer ----------------------------------------------------------------------------------

class LearningCurveScorer:
    """Scores cells by the predicted final accuracy from their first ``k`` epochs.

    Usage: ``fit(curves, targets)`` on fully trained cells, ``observe(curves)`` with the
    partial curves (at least k epochs) of candidates, then ``score(archs)``.
    ``curves`` maps arch -> {curve name: per-epoch values}; ``curve_names`` picks which
    curves, in order, become features (``valid_acc`` for NB201; ``train_loss``, ``test_acc``
    for the project's own runs).
    """

    name = "learning_curve"

    def __init__(self, k: int = 20, curve_names: Sequence[str] = ("valid_acc",), n_estimators: int = 200,
                 seed: int = 0):
        self.k, self.curve_names = int(k), tuple(str(c) for c in curve_names)
        self.forest = make_forest(seed, n_estimators)
        self.curves: dict[str, Mapping[str, Sequence[float]]] = {}
        self.fitted = False

    def observe(self, curves: Mapping[str, Mapping[str, Sequence[float]]]) -> None:
        """Register (partial) curves: arch -> {curve name: per-epoch values}."""
        for arch, named in curves.items():
            missing = [c for c in self.curve_names if c not in named]
            if missing:
                raise DataError(f"curves for {arch} lack {missing}: give every curve in curve_names={self.curve_names}")
            self.curves[arch] = named

    def features(self, archs: Sequence[str]) -> np.ndarray:
        """(N, 5 + k * len(curve_names)) features of registered cells."""
        unknown = [a for a in archs if a not in self.curves]
        if unknown:
            raise DataError(f"no learning curve for {unknown[0]}: train it {self.k} epochs and pass it to observe()")
        return curve_features(archs, {c: [self.curves[a][c] for a in archs] for c in self.curve_names}, self.k)[0]

    def fit(self, curves: Mapping[str, Mapping[str, Sequence[float]]], targets: Mapping[str, float]
            ) -> "LearningCurveScorer":
        """Fit on cells with known final accuracy (targets: arch -> accuracy)."""
        self.observe(curves)
        archs = list(targets)
        self.forest.fit(self.features(archs), np.array([targets[a] for a in archs], dtype=float))
        self.fitted = True
        return self

    def score(self, archs: Sequence[str], dataset: DatasetSample | None = None) -> np.ndarray:
        """(len(archs),) predicted final accuracy; ``dataset`` is unused (the curves carry it)."""
        if not self.fitted:
            raise MetaD2AError("LearningCurveScorer is not fitted: call fit(curves, targets) first")
        return self.forest.predict(self.features(list(archs)))


def nb201_curve_table(root: str | os.PathLike | None = None
                      ) -> tuple[dict[str, dict[str, list[float]]], dict[str, float]]:
    """The shared 200 NB201 cells: (arch -> {"train_acc", "valid_acc"}, arch -> epoch-200 valid acc)."""
    from metad2a.nb201_tables import learning_curves

    curves = learning_curves(root)
    return curves, {a: float(c["valid_acc"][-1]) for a, c in curves.items()}
