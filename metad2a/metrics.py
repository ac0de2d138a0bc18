"""Ranking and selection metrics over score and accuracy arrays, plus the quality of generated cells.

Rank correlations come from ``scipy.stats`` (O(n log n)); each is nan when it is undefined:
fewer than 2 items, a constant side, or a NaN anywhere (a NaN has no rank).
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
from scipy import stats

from metad2a.space import canonical_form, parse, valid_archs, zero_unreachable


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


def has_input_output_path(arch: str) -> bool:
    """Whether some chain of non-``none`` edges joins the cell's input to its output.

    Without one the cell outputs zeros whatever its input: a valid NB201 string, but a useless cell.
    """
    return any(op != "none" for op in parse(zero_unreachable(arch)))


def sample_quality(samples: Sequence[str], reference: Iterable[str] = ()) -> dict[str, float]:
    """How good a batch of generated cells is; each rate is in [0, 1] and can fall short of 1.

    validity:   fraction of samples that parse as NB201 cells
    connected:  fraction of samples that are valid and have an input-to-output path
                (``has_input_output_path``)
    uniqueness: distinct cells, up to NB201 equivalence (``canonical_form``), per sample
    novelty:    fraction of those distinct cells not equivalent to any cell of ``reference``
                (e.g. every cell evaluated in meta-training)
    """
    n = len(samples)
    valid = valid_archs(samples)
    distinct = {canonical_form(a) for a in valid}
    seen = {canonical_form(a) for a in valid_archs(list(reference))}
    return {"n": n, "validity": len(valid) / max(n, 1),
            "connected": sum(map(has_input_output_path, valid)) / max(n, 1),
            "uniqueness": len(distinct) / max(n, 1),
            "novelty": len(distinct - seen) / max(len(distinct), 1)}
