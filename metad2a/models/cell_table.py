"""A table of precomputed cell encodings: the predictor's cell side for all 15,625 cells, looked up.

A trained predictor's encoding of a cell (``MetaPredictor.encode_cells``: the GNN, plus GRAF
features if configured) does not depend on the dataset. So it can be computed once for every
cell, when the checkpoint is written, and inference looks rows up instead of running the GNN:

    table = tabulate(model.encode_cells)            (15625, dim), rows in ``cell_code`` order
    CellTable(table)(node_type)                     node_type (M, 8) -> (M, dim) == encode_cells

The lookup returns exactly what the GNN computed (the same float32 numbers), so scores do not
change; what changes is that ``generate.py`` neither builds the GNN nor imports PyG (~1.9 s).
The table adds 15,625 x dim floats to the checkpoint (8 MB at dim 128).

    python -m metad2a.models add-cell-table meta_data/checkpoints/predictor.pt   # add or refresh it
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from metad2a.models.cell_prior import cell_code, code_node_types
from metad2a.space import NUM_CELLS


def all_node_types() -> torch.Tensor:
    """(15625, 8) node types of every cell, row i being the cell whose ``cell_code`` is i."""
    return code_node_types(torch.arange(NUM_CELLS))


@torch.no_grad()
def tabulate(encode: Callable[[torch.Tensor], torch.Tensor], chunk: int = 4096) -> torch.Tensor:
    """``encode`` ((M, 8) node types -> (M, dim)) over all cells -> (15625, dim) float32, ``cell_code`` order."""
    nt = all_node_types()
    return torch.cat([encode(nt[i : i + chunk]).float() for i in range(0, len(nt), chunk)]).contiguous()


class CellTable(nn.Module):
    """node_type (M, 8) -> (M, dim): rows of a (15625, dim) table of cell encodings (a buffer)."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        if table.ndim != 2 or table.shape[0] != NUM_CELLS:
            raise ValueError(f"a cell table is ({NUM_CELLS}, dim), got shape {tuple(table.shape)}")
        self.register_buffer("table", table.float())

    def forward(self, node_type: torch.Tensor) -> torch.Tensor:
        return self.table[cell_code(node_type)]
