"""Which cells the generator learns to decode for each training task, and with what weight.

Choice (defaults in ``conf/trainer/default.yaml``):

- **How many:** the top ``k = min(top_k, max(1, ceil(top_frac * n)))`` of the task's n
  evaluated cells, i.e. the top 20% capped at 5. With 20-30 evaluated cells per task that is
  4-5 targets: enough to show the generator a region rather than one point, few enough that
  they are all genuinely good for the task (the top 20% of a random sample of cells sits
  around the 80th-90th percentile of the space).
- **Weights:** ``w_i ∝ exp(-(acc_best - acc_i) / temperature)`` with temperature in accuracy
  points (default 1.0), normalised to sum to 1 per task. Cells within seed noise of the best
  (about a point on the mini recipe) get nearly equal weight, a cell 3 points behind gets 5%
  of the best's weight; so noise in the ranking at the top does not decide the target, and
  clearly worse cells do not dilute it. Every task carries the same total weight.

Cells evaluated more than once (identical strings) are merged, keeping the mean accuracy.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from metad2a.database.task_data import TaskData


def select_targets(
    archs: Sequence[str], accs: Sequence[float], top_k: int = 5, top_frac: float = 0.2, temperature: float = 1.0
) -> tuple[list[str], np.ndarray]:
    """The task's target cells (best first) and their weights (sum 1)."""
    if len(archs) == 0:
        return [], np.zeros(0)
    merged: dict[str, list[float]] = {}
    for a, y in zip(archs, accs):
        merged.setdefault(a, []).append(float(y))
    uniq = sorted(((float(np.mean(v)), a) for a, v in merged.items()), reverse=True)
    k = min(top_k, max(1, math.ceil(top_frac * len(uniq))))
    top = uniq[:k]
    gaps = np.array([top[0][0] - y for y, _ in top])
    w = np.exp(-gaps / max(temperature, 1e-8))
    return [a for _, a in top], w / w.sum()


def task_targets(tasks: Sequence[TaskData], top_k: int = 5, top_frac: float = 0.2,
                 temperature: float = 1.0) -> list[tuple[list[str], np.ndarray]]:
    """``select_targets`` for each task, in order."""
    return [select_targets(t.archs, t.accs, top_k, top_frac, temperature) for t in tasks]
