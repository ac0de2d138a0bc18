"""Validation during meta-training: how well each model ranks the cells of held-out tasks.

Predictors are judged by the mean within-task Kendall tau of predicted against true accuracy
(not pooled Pearson, which mostly rewards predicting task difficulty); the generator by the
within-task Kendall tau between log p(cell | dataset) and accuracy. Features are the first
``samples_per_class`` of each class, so the numbers are deterministic.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from metad2a.metrics import kendall_tau, spearman
from metad2a.models.graph_vae import GraphVAE, reconstruction_nll
from metad2a.models.predictor import MetaPredictor
from metad2a.training.batching import TaskTensors, cells_of, feature_batch


def _nanmean(values: Sequence[float]) -> float:
    v = np.asarray(values, dtype=float)
    return float(np.nanmean(v)) if not np.all(np.isnan(v)) else float("nan")


@torch.no_grad()
def predict_tasks(model: MetaPredictor, tasks: Sequence[TaskTensors], samples_per_class: int | None,
                  batch_tasks: int = 16, answer: bool = False) -> list[np.ndarray]:
    """Predicted accuracy (%) of each task's evaluated cells: one (n_cells,) array per task.

    Each task is predicted under the recipe that labelled it (so a ranking is compared with its
    own kind of truth), or with ``answer`` under the model's ``answer_recipe``.
    """
    model.eval()
    out = []
    for s in range(0, len(tasks), batch_tasks):
        batch = tasks[s : s + batch_tasks]
        x, mask = feature_batch(batch, samples_per_class)
        node_type, _, index = cells_of(batch)
        recipe = None if answer else model.recipe_ids([t.recipe for t in batch], len(batch))
        pred = 100.0 * model(model.embed_dataset(x, mask), node_type, index, recipe)
        out += [p.cpu().numpy() for p in pred.split([len(t.acc) for t in batch])]
    return out


def ranking_metrics(preds: Sequence[np.ndarray], tasks: Sequence[TaskTensors]) -> dict[str, float]:
    """Mean within-task Kendall tau and Spearman (nan tasks, e.g. constant truth, are skipped)."""
    return {"kendall": _nanmean([kendall_tau(p, t.task.accs) for p, t in zip(preds, tasks)]),
            "spearman": _nanmean([spearman(p, t.task.accs) for p, t in zip(preds, tasks)])}


@torch.no_grad()
def generator_scores(vae: GraphVAE, tasks: Sequence[TaskTensors], samples_per_class: int | None,
                     batch_tasks: int = 16) -> tuple[float, float]:
    """How well the generator fits held-out tasks, decoding from z = mu(D).

    Returns (kendall, nll): the mean within-task Kendall tau between log p(cell | mu(D)) and
    the cells' true accuracy over each task's evaluated cells, and the mean weighted NLL of
    the task's targets. Kendall is the selection metric: target NLL on unseen tasks rewards a
    generator that hedges towards uniform, while the ranking rewards putting its mass on the
    cells that are good for that dataset.
    """
    vae.eval()
    taus, nll = [], 0.0
    for s in range(0, len(tasks), batch_tasks):
        batch = tasks[s : s + batch_tasks]
        x, mask = feature_batch(batch, samples_per_class)
        mu, _ = vae.encode_dataset(x, mask)
        for b, t in enumerate(batch):
            logits, _ = vae.decoder(mu[b : b + 1].expand(len(t.target_weight), -1), t.target_type)
            nll += float((t.target_weight * reconstruction_nll(logits, t.target_type)).sum())
            logits, _ = vae.decoder(mu[b : b + 1].expand(len(t.acc), -1), t.node_type)
            taus.append(kendall_tau(-reconstruction_nll(logits, t.node_type).cpu().numpy(), t.task.accs))
    return _nanmean(taus), nll / max(len(tasks), 1)
