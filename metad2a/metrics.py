"""Ranking and selection metrics over score and accuracy arrays (generated-cell quality: ``space.quality``).

Rank correlations come from ``scipy.stats`` (O(n log n)); each is nan when it is undefined:
fewer than 2 items, a constant side, or a NaN anywhere (a NaN has no rank).
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
from scipy import stats



def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean rank), 0-based. x: (n,) finite."""
    return stats.rankdata(np.asarray(x, float), method="average") - 1.0


def _pair(a, b, name: str) -> tuple[np.ndarray, np.ndarray] | None:
    """``a``, ``b`` as float arrays, or None when a rank correlation of them is undefined."""
    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    if len(a) != len(b):
        raise ValueError(f"{name}: lengths differ ({len(a)} vs {len(b)})")
    if len(a) < 2 or np.isnan(a).any() or np.isnan(b).any() or len(np.unique(a)) < 2 or len(np.unique(b)) < 2:
        return None
    return a, b


def _exact(r: float) -> float:
    # scipy divides by square roots: a perfect ranking gives 1 - 2e-16. Rounding far below any
    # reported digit gives back exact 1.0, -1.0 and 0.0.
    return float(np.clip(round(float(r), 12), -1.0, 1.0))


def spearman(a, b) -> float:
    """Spearman rank correlation (ties averaged); nan when undefined (see the module docstring)."""
    pair = _pair(a, b, "spearman")
    return float("nan") if pair is None else _exact(stats.spearmanr(*pair).statistic)


def kendall_tau(a, b) -> float:
    """Kendall tau-b (ties corrected); nan when undefined (see the module docstring)."""
    pair = _pair(a, b, "kendall_tau")
    return float("nan") if pair is None else _exact(stats.kendalltau(*pair, variant="b").statistic)


def monotonicity_violations(pred, true) -> int:
    """Pairs ordered one way by ``pred`` and the other way by ``true`` (ties in either don't count)."""
    p, t = np.asarray(pred, float), np.asarray(true, float)
    dp, dt = np.sign(p[:, None] - p[None, :]), np.sign(t[:, None] - t[None, :])
    return int(np.triu(dp * dt < 0, k=1).sum())


def top1_regret(scores, true) -> float:
    """True best accuracy minus the true accuracy of the top-scored cell (same units as ``true``)."""
    s, t = np.asarray(scores, float), np.asarray(true, float)
    return float(t.max() - t[int(np.argmax(s))])


def pick_percentile(scores, true) -> float:
    """Percentile (0-100) of the top-scored cell's true accuracy among all cells; 100 = best."""
    s, t = np.asarray(scores, float), np.asarray(true, float)
    chosen = t[int(np.argmax(s))]
    return float(100.0 * (t < chosen).sum() / max(len(t) - 1, 1)) if len(t) > 1 else 100.0

