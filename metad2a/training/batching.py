"""From tasks to model inputs: tensors per task once, then random batches of tasks every step.

    prepare_tasks     TaskData -> TaskTensors (features, cells, accuracies, generator targets)
    task_batches      a random partition of task indices into batches of ``batch_tasks``
    predictor_batch   a batch -> the keyword arguments of ``MetaPredictor.loss``
    generator_batch   a batch -> the keyword arguments of ``GraphVAE.loss``

Every random draw (class subsets, batch order, unlabelled cells) takes the loop's one
``torch.Generator``, in a fixed order, so a resumed run continues the same stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from metad2a.database.task_data import TaskData
from metad2a.errors import DataError
from metad2a.models.graph_encoder import encode_archs
from metad2a.models.set_encoder import pad_features
from metad2a.training.generator_targets import select_targets


@dataclass
class TaskTensors:
    """One task, ready for the models. features (C, N, D); node_type (n, 8); acc (n,) in [0, 1]."""

    task: TaskData
    features: torch.Tensor
    node_type: torch.Tensor
    acc: torch.Tensor
    target_type: torch.Tensor  # (k, 8)
    target_weight: torch.Tensor  # (k,)

    @property
    def recipe(self) -> str:
        return self.task.recipe


def prepare_tasks(tasks: Sequence[TaskData], top_k: int, top_frac: float, temperature: float,
                  device: str = "cpu") -> list[TaskTensors]:
    """Tensors of each task, with its generator targets (``generator_targets.select_targets``)."""
    out = []
    for t in tasks:
        archs, w = select_targets(t.archs, t.accs, top_k, top_frac, temperature)
        out.append(TaskTensors(
            task=t,
            features=torch.as_tensor(np.asarray(t.features, dtype=np.float32), device=device),
            node_type=encode_archs(t.archs).to(device),
            acc=torch.as_tensor(np.asarray(t.accs, dtype=np.float32) / 100.0, device=device),
            target_type=encode_archs(archs).to(device),
            target_weight=torch.as_tensor(w, dtype=torch.float32, device=device),
        ))
    return out


def task_batches(n: int, size: int, gen: torch.Generator) -> list[list[int]]:
    """A random order of ``range(n)`` cut into batches of ``size`` (the last may be smaller)."""
    perm = torch.randperm(n, generator=gen).tolist()
    return [perm[i : i + size] for i in range(0, n, size)]


def feature_batch(batch: Sequence[TaskTensors], samples_per_class: int | None,
                  gen: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Padded (B, C, N, D) features and (B, C, N) mask; a random subset of samples per class when ``gen``
    is given, otherwise the first ``samples_per_class`` (deterministic, for validation)."""
    sets = []
    for t in batch:
        f, n = t.features, t.features.shape[1]
        k = n if not samples_per_class else min(samples_per_class, n)
        if k < n:
            idx = torch.randperm(n, generator=gen)[:k] if gen is not None else torch.arange(k)
            f = f[:, idx.to(f.device)]
        sets.append(f)
    return pad_features(sets)


def cells_of(batch: Sequence[TaskTensors], max_cells: int | None = None,
             gen: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Concatenated (M, 8) node types, (M,) accuracies and (M,) task index into the batch.

    A task with more than ``max_cells`` cells (NB201's table task has 15,625) contributes a
    random subset of that many (drawn with ``gen``), so one task cannot swamp a batch.
    """
    types, accs, index = [], [], []
    for b, t in enumerate(batch):
        nt, acc = t.node_type, t.acc
        if max_cells and len(acc) > max_cells:
            pick = torch.randperm(len(acc), generator=gen)[:max_cells].to(acc.device)
            nt, acc = nt[pick], acc[pick]
        types.append(nt)
        accs.append(acc)
        index.append(torch.full((len(acc),), b, dtype=torch.long, device=acc.device))
    return torch.cat(types), torch.cat(accs), torch.cat(index)


def predictor_batch(batch: Sequence[TaskTensors], samples_per_class: int | None, gen: torch.Generator | None,
                    recipes: Sequence[str] = (), max_cells: int | None = None) -> dict[str, torch.Tensor]:
    """``MetaPredictor.loss`` inputs: features (B, C, N, D), mask, node_type (M, 8), acc (M,), task_index (M,)
    and recipe (B,): each task's recipe as an index into ``recipes`` (the model's vocabulary)."""
    x, mask = feature_batch(batch, samples_per_class, gen)
    node_type, acc, index = cells_of(batch, max_cells, gen)
    unknown = sorted({t.recipe for t in batch} - set(recipes))
    if unknown:
        raise DataError(f"tasks labelled by recipes {unknown} that model.recipes={list(recipes)} lacks: "
                        "add them to model.recipes or leave those tasks out (data.recipes)")
    recipe = torch.tensor([list(recipes).index(t.recipe) for t in batch], dtype=torch.long, device=x.device)
    return {"features": x, "mask": mask, "node_type": node_type, "acc": acc, "task_index": index, "recipe": recipe}


def generator_batch(batch: Sequence[TaskTensors], samples_per_class: int | None, gen: torch.Generator | None,
                    all_cells: torch.Tensor, unlabelled: int = 0, with_cells: bool = True) -> dict:
    """``GraphVAE.loss`` inputs: features, mask, the batch's weighted target cells, ``unlabelled`` cells
    drawn from ``all_cells`` (U, 8) for the graph->graph term (none when 0), and with ``with_cells``
    every evaluated cell with its accuracy for the likelihood-ranking term."""
    x, mask = feature_batch(batch, samples_per_class, gen)
    target_types = torch.cat([t.target_type for t in batch])
    target_weight = torch.cat([t.target_weight for t in batch])
    target_task = torch.cat([torch.full((len(t.target_weight),), b, dtype=torch.long) for b, t in enumerate(batch)])
    extra = None
    if unlabelled > 0:
        extra = all_cells[torch.randint(len(all_cells), (unlabelled,), generator=gen).to(all_cells.device)]
    cells = None
    if with_cells:
        node_type, acc, index = cells_of(batch)
        cells = (node_type, index, acc)
    return {"features": x, "mask": mask, "target_types": target_types, "target_task": target_task.to(target_types.device),
            "target_weight": target_weight, "extra_types": extra, "cells": cells, "generator": gen}
