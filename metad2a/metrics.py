"""Ranking and selection metrics (pure numpy functions)."""

from __future__ import annotations

import numpy as np


def _ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean rank), 0-based."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=float)
    sx = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sx[j + 1] == sx[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0
        i = j + 1
    return ranks


def spearman(a, b) -> float:
    """Spearman rank correlation (ties averaged); nan when either side is constant."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) != len(b):
        raise ValueError(f"spearman: lengths differ ({len(a)} vs {len(b)})")
    ra, rb = _ranks(a), _ranks(b)
    if len(a) < 2 or ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def kendall_tau(a, b) -> float:
    """Kendall tau-b (handles ties); nan when either side is constant. O(n^2) memory in blocks."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) != len(b):
        raise ValueError(f"kendall_tau: lengths differ ({len(a)} vs {len(b)})")
    n = len(a)
    conc = disc = ties_a = ties_b = 0
    block = 2048
    for s in range(0, n, block):
        da = np.sign(a[s : s + block, None] - a[None, :])
        db = np.sign(b[s : s + block, None] - b[None, :])
        rows = np.arange(s, min(s + block, n))[:, None]
        upper = np.arange(n)[None, :] > rows  # count each pair once
        prod = (da * db)[upper]
        conc += int((prod > 0).sum())
        disc += int((prod < 0).sum())
        ties_a += int(((da == 0) & (db != 0))[upper].sum())
        ties_b += int(((db == 0) & (da != 0))[upper].sum())
    denom = np.sqrt((conc + disc + ties_a) * (conc + disc + ties_b))
    return float((conc - disc) / denom) if denom > 0 else float("nan")


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
