"""Benchmark metrics as pure functions of plain numbers.

For a pick with true accuracy ``a`` on a task whose evaluated cells have accuracies ``accs``:

    percentile  100 * (# other evaluated cells with accuracy < a) / (# other evaluated cells)
                "other" leaves out the pick itself when it is an evaluated cell, so for such
                picks this equals ``metad2a.metrics.pick_percentile``; 100 = beats them all
    regret      max(accs) - a, in accuracy points; negative when the pick beats every
                evaluated cell (reported as is)

A tie is not beaten: a pick tied with the best other cell is below 100 (as in
``pick_percentile``; with seed-mean accuracies over 1,000+ test images ties are rare).
``Population`` holds the compared accuracies sorted once, so a table of 15,625 cells ranks
thousands of picks quickly.

Within-task Spearman and Kendall are ``metad2a.metrics``', over the evaluated cells that have
a score (a method may score a fixed subset of them). Over seeds a metric is reported as
mean ± sample std (nan entries skipped); search seconds as the median of the timings.

Across datasets (``mean_ranks``): on each dataset the methods are ranked by pick accuracy
(1 = best; tied methods share the mean of the ranks they span), and each method's ranks are
averaged over the datasets where it has an accuracy (a method without one is left out of that
dataset's ranking, and its count of datasets says so).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from metad2a.metrics import kendall_tau, spearman


def percentile_among(value: float, others: Sequence[float]) -> float:
    """Percentile (0-100) of ``value`` among ``others``: the share strictly below it; 100 if none."""
    o = np.asarray(others, dtype=float)
    return float(100.0 * (o < value).sum() / len(o)) if len(o) else 100.0


def regret(value: float, accs: Sequence[float]) -> float:
    """Best evaluated accuracy minus ``value`` (points); negative if ``value`` beats them all."""
    return float(np.max(np.asarray(accs, dtype=float)) - value)


class Population:
    """The accuracies a pick is compared with (a task's evaluated cells, or every cell of a table).

    accs: (n,) accuracies (%), n >= 1; sorted once, so each pick costs O(log n).
    """

    def __init__(self, accs: Sequence[float]):
        self.sorted = np.sort(np.asarray(accs, dtype=float))
        if not len(self.sorted):
            raise ValueError("a population needs at least one accuracy")
        self.best = float(self.sorted[-1])

    def __len__(self) -> int:
        return len(self.sorted)

    def pick_metrics(self, value: float, member: bool) -> dict[str, float]:
        """accuracy, percentile and regret of a pick with true accuracy ``value``.

        member: the pick is one of the population (left out of the percentile's comparison set;
                it is never strictly below itself, so only the count of others changes)

        A pick without a truth (``value`` nan: a cell missing from a partial table) gets nan for all three.
        """
        if not np.isfinite(value):
            return {"accuracy": float("nan"), "percentile": float("nan"), "regret": float("nan")}
        below = int(np.searchsorted(self.sorted, value, side="left"))
        others = len(self.sorted) - int(member)
        pct = 100.0 * below / others if others else 100.0
        return {"accuracy": float(value), "percentile": float(pct), "regret": self.best - float(value)}


def pick_metrics(value: float, accs: Sequence[float], index: int | None = None) -> dict[str, float]:
    """accuracy, percentile and regret of one pick.

    accs:  (n,) the evaluated cells' accuracies
    index: the pick's position in ``accs`` when it is an evaluated cell (left out of the
           percentile's comparison set), else None
    """
    return Population(accs).pick_metrics(value, member=index is not None)


def rank_metrics(scores: Sequence[float] | None, accs: Sequence[float]) -> dict[str, float]:
    """Within-task Spearman and Kendall of ``scores`` (n,) against ``accs`` (n,) over the cells that have
    a score (nan scores are left out); nan without scores."""
    if scores is None:
        return {"spearman": float("nan"), "kendall": float("nan")}
    s, a = np.asarray(scores, dtype=float), np.asarray(accs, dtype=float)
    keep = ~np.isnan(s)
    return {"spearman": spearman(s[keep], a[keep]), "kendall": kendall_tau(s[keep], a[keep])}


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """(mean, sample std) skipping nan; std is 0 for one value, (nan, nan) for none."""
    v = np.asarray(values, dtype=float)
    v = v[~np.isnan(v)]
    if len(v) == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def median_seconds(timings: Sequence[float]) -> float:
    """The median of the timings (seconds); nan for none."""
    return float(np.median(timings)) if len(timings) else float("nan")


def ranks(values: Sequence[float]) -> np.ndarray:
    """0-based ranks, best (largest) first: ranks([1, 3, 2]) -> [2, 0, 1]. Ties keep input order."""
    v = np.asarray(values, dtype=float)
    out = np.empty(len(v), dtype=int)
    out[np.argsort(-v, kind="stable")] = np.arange(len(v))
    return out


RUN_METRICS = ("accuracy", "percentile", "regret", "spearman", "kendall")


def summarize_runs(runs: Sequence[dict], timings: Sequence[float]) -> dict:
    """One method on one task: each of RUN_METRICS as mean and ``<metric>_std`` over the runs
    (one per seed), ``search_s`` the median of ``timings``, ``cells_trained`` the mean."""
    out: dict = {"n_seeds": len(runs)}
    for m in RUN_METRICS:
        out[m], out[f"{m}_std"] = mean_std([r[m] for r in runs])
    out["search_s"] = median_seconds(timings)
    out["cells_trained"] = float(np.mean([r["cells_trained"] for r in runs])) if runs else float("nan")
    return out


def aggregate_tasks(summaries: Sequence[dict]) -> dict:
    """Several tasks' ``summarize_runs`` outputs: each metric's mean and std over the tasks' means;
    ``search_s`` and ``cells_trained`` averaged over tasks; ``n_seeds`` the most seeds of any task."""
    out: dict = {"n_tasks": len(summaries), "n_seeds": max((s["n_seeds"] for s in summaries), default=0)}
    for m in RUN_METRICS:
        out[m], out[f"{m}_std"] = mean_std([s[m] for s in summaries])
    for m in ("search_s", "cells_trained"):
        out[m] = mean_std([s[m] for s in summaries])[0]
    return out


def mean_ranks(accuracy: dict[str, dict[str, float]]) -> dict[str, dict]:
    """Each method's mean rank over datasets: ``{dataset: {method: pick accuracy}}`` ->
    ``{method: {"mean_rank", "n_datasets", "ranks": {dataset: rank}}}``.

    Within a dataset the methods with a finite accuracy are ranked, 1 = most accurate; tied
    methods share the mean of the ranks they span (1 and 2 tied: 1.5 each). A method with no
    finite accuracy on a dataset is left out of that dataset; its mean is over the rest
    (``n_datasets``), nan when it has none. Methods keep their first-seen order.
    """
    from scipy.stats import rankdata

    methods = list(dict.fromkeys(m for rows in accuracy.values() for m in rows))
    ranks: dict[str, dict[str, float]] = {m: {} for m in methods}
    for ds, rows in accuracy.items():
        present = [m for m in methods if m in rows and rows[m] is not None and np.isfinite(rows[m])]
        if not present:
            continue
        r = rankdata([-float(rows[m]) for m in present], method="average")
        for m, v in zip(present, r):
            ranks[m][ds] = float(v)
    return {m: {"mean_rank": float(np.mean(list(rs.values()))) if rs else float("nan"), "n_datasets": len(rs),
                "ranks": rs} for m, rs in ranks.items()}
