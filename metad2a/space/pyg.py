"""Adapter from an arch string to a ``torch_geometric.data.Data`` (imports torch)."""

from __future__ import annotations

import torch
from torch_geometric.data import Data

from metad2a.space.graph import DAG_EDGES, NUM_NODE_TYPES, node_types

_EDGE_INDEX = torch.tensor(DAG_EDGES, dtype=torch.long).t().contiguous()


def to_pyg(arch: str) -> Data:
    """``Data(x: (8, 7) float one-hot node types, edge_index: (2, E), node_type: (8,))``."""
    t = torch.tensor(node_types(arch), dtype=torch.long)
    x = torch.nn.functional.one_hot(t, NUM_NODE_TYPES).float()
    return Data(x=x, edge_index=_EDGE_INDEX.clone(), node_type=t, num_nodes=len(t))
