"""Hand-crafted cell features for the meta-predictor: GRAF's 191 graph features, standardised.

    x = (graf(cell) - mean) / std        (M, 191)

GRAF (Kadlecová et al., 2024) counts ops and, for every subset of ops, path lengths and
degrees; a forest on them ranks NB201 cells well from few labels. The predictor can add them
to its GNN encoding (``ModelConfig.cell_features = "graf"``). The mean and std are the
training cells' (``CellFeatures.fit``), kept as buffers so they travel with the checkpoint.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from torch import nn

from metad2a.space import NODE_TYPES, format_cell
from metad2a.space.graf import NUM_FEATURES, graf_features

GRAF_DIM = NUM_FEATURES  # 191


@lru_cache(maxsize=32768)
def _graf(arch: str) -> tuple[float, ...]:
    return tuple(graf_features(arch).tolist())


def graf_of_node_types(node_type: torch.Tensor) -> torch.Tensor:
    """(M, 8) node-type ids (START, 6 ops, END) -> (M, 191) float32 GRAF features."""
    rows = [_graf(format_cell([NODE_TYPES[t] for t in r[1:-1]])) for r in node_type.tolist()]
    return torch.tensor(rows, dtype=torch.float32, device=node_type.device).reshape(len(rows), GRAF_DIM)


class CellFeatures(nn.Module):
    """node_type (M, 8) -> standardised GRAF features (M, 191)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.zeros(GRAF_DIM))
        self.register_buffer("std", torch.ones(GRAF_DIM))

    @torch.no_grad()
    def fit(self, node_type: torch.Tensor) -> "CellFeatures":
        """Set mean and std from cells (M, 8); constant features get std 1."""
        x = graf_of_node_types(node_type)
        self.mean.copy_(x.mean(0))
        self.std.copy_(torch.where(x.std(0) > 1e-6, x.std(0), torch.ones(GRAF_DIM)))
        return self

    def forward(self, node_type: torch.Tensor) -> torch.Tensor:
        return (graf_of_node_types(node_type) - self.mean) / self.std


def unique_node_types(node_type: torch.Tensor) -> torch.Tensor:
    """The distinct rows of (M, 8) node types (for ``CellFeatures.fit`` on a training set)."""
    return torch.as_tensor(np.unique(node_type.cpu().numpy(), axis=0))
