"""A lookup prior over all 15,625 NB201 cells, carried inside a model as a buffer.

NAS-Bench-201 trained every cell properly on ImageNet16-120. That table is the best single
guess of what proper training rewards on a new dataset (Spearman 0.94 with CIFAR-100 over the
6,466 unique cells), so the meta-predictor starts from it and learns only how a dataset moves
cells away from it (``models/predictor.py``).

Cells are looked up by a closed-form code, the 6 op ids read as a base-5 number
(``cell_code``), so inference needs neither the shared table nor the official NB201 index:
the prior travels with the checkpoint's state dict (15,625 floats).

    p(cell) = (table[cell_code(cell)] - mean) / std          (M,)
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from metad2a.space import NUM_CELLS, NUM_NODE_TYPES, OPS

_POWERS = torch.tensor([len(OPS) ** k for k in range(6)], dtype=torch.long)


def cell_code(node_type: torch.Tensor) -> torch.Tensor:
    """(M, 8) node-type ids (START, 6 ops, END) -> (M,) codes in [0, 15625).

    Op node types are 1..5 in ``OPS`` order, so op id = type - 1.
    """
    ops = node_type[:, 1:7] - 1
    if bool(((ops < 0) | (ops >= len(OPS))).any()):
        raise ValueError("node types 1-6 must be op types: pass encode_archs(...) output")
    return (ops * _POWERS.to(node_type.device)).sum(1)


def code_node_types(code: torch.Tensor) -> torch.Tensor:
    """(M,) codes in [0, 15625) -> (M, 8) node-type ids, the inverse of ``cell_code``."""
    ops = (code[:, None] // _POWERS.to(code.device)) % len(OPS)
    start = torch.zeros(len(code), 1, dtype=torch.long, device=code.device)
    return torch.cat([start, ops + 1, start + NUM_NODE_TYPES - 1], dim=1)


class CellPrior(nn.Module):
    """node_type (M, 8) -> (M,) standardised prior accuracy; 0 for cells the table lacks."""

    def __init__(self):
        super().__init__()
        self.register_buffer("table", torch.zeros(NUM_CELLS))
        self.register_buffer("known", torch.zeros(NUM_CELLS, dtype=torch.bool))
        self.register_buffer("stats", torch.tensor([0.0, 1.0]))  # mean, std of the known entries (%)

    @torch.no_grad()
    def fit(self, node_type: torch.Tensor, accuracy: Sequence[float] | torch.Tensor) -> "CellPrior":
        """Fill the table from cells (M, 8) and their accuracy in percent (M,)."""
        acc = torch.as_tensor(accuracy, dtype=torch.float32)
        if len(acc) != len(node_type) or len(acc) < 2:
            raise ValueError(f"need one accuracy per cell and at least 2 cells, got {len(acc)} for {len(node_type)}")
        code = cell_code(node_type)
        self.table.zero_()
        self.known.zero_()
        self.table[code] = acc
        self.known[code] = True
        self.stats.copy_(torch.stack([acc.mean(), acc.std().clamp_min(1e-6)]))
        return self

    @property
    def fitted(self) -> bool:
        return bool(self.known.any())

    def accuracy(self, node_type: torch.Tensor) -> torch.Tensor:
        """(M, 8) -> (M,) the table's accuracy in percent (the mean for unknown cells)."""
        code = cell_code(node_type)
        return torch.where(self.known[code], self.table[code], self.stats[0])

    def forward(self, node_type: torch.Tensor) -> torch.Tensor:
        return (self.accuracy(node_type) - self.stats[0]) / self.stats[1]
