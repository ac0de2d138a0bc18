"""Ranking and regression losses of the meta-predictor (and the graph VAE's likelihood ranking).

Pooled regression over many tasks mostly learns task difficulty (the between-task spread of
accuracy dwarfs the within-task spread), so the ranking terms only compare cells of the
same task (``group`` ids). Both ranking losses work on predictions standardised within each
task, which makes them scale-free: they shape the order and leave the level and spread to the
regression term, so the two do not fight.

pred, target, group: (M,) each; group holds task ids (any integers). Returns a scalar.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def regression_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error, (M,) x (M,) -> scalar."""
    return F.mse_loss(pred, target)


def standardize_within(x: torch.Tensor, group: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Z-score x within each group (groups of one map to 0). (M,) -> (M,)."""
    _, inv, counts = torch.unique(group, return_inverse=True, return_counts=True)
    n = counts.to(x.dtype)
    mean = torch.zeros_like(n).index_add_(0, inv, x) / n
    var = torch.zeros_like(n).index_add_(0, inv, (x - mean[inv]) ** 2) / n
    return (x - mean[inv]) / (var[inv] + eps).sqrt()


def pairwise_ranking_loss(pred: torch.Tensor, target: torch.Tensor, group: torch.Tensor,
                          min_gap: float = 0.0) -> torch.Tensor:
    """RankNet logistic loss over all same-task pairs whose targets differ by more than ``min_gap``.

    mean over pairs (i, j), target_i > target_j + min_gap, of log(1 + exp(-(s_i - s_j))),
    s = pred standardised within its task.
    """
    s = standardize_within(pred, group)
    same = group[:, None] == group[None, :]
    better = (target[:, None] - target[None, :]) > min_gap
    pairs = same & better
    if not pairs.any():
        return pred.sum() * 0.0
    return F.softplus(-(s[:, None] - s[None, :]))[pairs].mean()


def listnet_loss(pred: torch.Tensor, target: torch.Tensor, group: torch.Tensor,
                 temperature: float = 0.5) -> torch.Tensor:
    """ListNet top-one cross-entropy per task, averaged over tasks.

    P = softmax(z(target) / T), Q = softmax(z(pred)) within each task; loss = -sum P log Q.
    A low temperature concentrates the target on the task's best cells.
    """
    s, t = standardize_within(pred, group), standardize_within(target, group) / temperature
    _, inv = torch.unique(group, return_inverse=True)
    losses = []
    for g in range(int(inv.max()) + 1):
        idx = inv == g
        if idx.sum() > 1:
            losses.append(-(torch.softmax(t[idx], 0) * torch.log_softmax(s[idx], 0)).sum())
    return torch.stack(losses).mean() if losses else pred.sum() * 0.0


def ranking_loss(kind: str, pred: torch.Tensor, target: torch.Tensor, group: torch.Tensor) -> torch.Tensor:
    """Dispatch on ``kind``: "pairwise" or "listnet"."""
    if kind == "pairwise":
        return pairwise_ranking_loss(pred, target, group)
    if kind == "listnet":
        return listnet_loss(pred, target, group)
    raise ValueError(f"unknown rank_loss {kind!r}: use model.rank_loss=pairwise or model.rank_loss=listnet")
