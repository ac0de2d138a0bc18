"""A bidirectional GIN over MetaD2A's op-as-node DAG (8 nodes: START, 6 edge ops, END).

Every NB201 cell has the same wiring (``space.DAG_EDGES``); only node types differ. So a batch
of cells is a (B, 8) tensor of node-type ids, and the PyG edge index of the batch is the fixed
DAG repeated with node offsets, exactly what ``Batch.from_data_list([to_pyg(a), ...])`` builds.

One layer, for node v with state h_v (L layers, residual, LayerNorm):

    h_v <- LN(h_v + MLP([GIN_fwd(h)_v ; GIN_bwd(h)_v])),   GIN(h)_v = MLP((1 + eps) h_v + sum_{u in N(v)} h_u)

GIN_fwd aggregates predecessors, GIN_bwd successors, so information flows both ways like
D-VAE's bidirectional encoder. Node states start as type embedding + position embedding: the
position (which of the 6 edges) is well-defined because the wiring is fixed, and it lets the
decoder's reconstruction target be recovered exactly. Readout: sum over nodes -> MLP.

PyG is imported when the first encoder is built, not with this module: the import costs about
1.9 s (``torch_geometric`` loads ``torch._dynamo``), and inference answers from a table of
precomputed cell encodings (``models/cell_table.py``) without building an encoder at all.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import torch
from torch import nn

from metad2a.space import DAG_EDGES, NUM_DAG_NODES, NUM_NODE_TYPES, node_types


def encode_archs(archs: Sequence[str]) -> torch.Tensor:
    """NB201 arch strings -> (B, 8) long node-type ids (START, 6 ops in string order, END)."""
    return torch.tensor([node_types(a) for a in archs], dtype=torch.long).reshape(len(archs), NUM_DAG_NODES)


@lru_cache(maxsize=16)
def batch_edge_index(num_graphs: int) -> torch.Tensor:
    """(2, B*E) edge index of B copies of the fixed DAG, graph b's nodes at 8b..8b+7."""
    ei = torch.tensor(DAG_EDGES, dtype=torch.long).t()
    offsets = torch.arange(num_graphs).repeat_interleave(ei.shape[1]) * NUM_DAG_NODES
    return ei.repeat(1, num_graphs) + offsets


def _pyg():
    """PyG's ``GINConv`` and ``global_add_pool``, imported on first use (see the module docstring)."""
    from torch_geometric.nn import GINConv, global_add_pool

    return GINConv, global_add_pool


def _mlp(d_in: int, d: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, d), nn.ReLU(), nn.Linear(d, d))


class GraphEncoder(nn.Module):
    """node_type: (B, 8) long ids into ``NODE_TYPES`` -> (B, dim)."""

    def __init__(self, dim: int = 128, num_layers: int = 3):
        super().__init__()
        GINConv, _ = _pyg()
        self.type_emb = nn.Embedding(NUM_NODE_TYPES, dim)
        self.pos_emb = nn.Embedding(NUM_DAG_NODES, dim)
        self.fwd = nn.ModuleList(GINConv(_mlp(dim, dim), train_eps=True) for _ in range(num_layers))
        self.bwd = nn.ModuleList(GINConv(_mlp(dim, dim), train_eps=True) for _ in range(num_layers))
        self.mix = nn.ModuleList(_mlp(2 * dim, dim) for _ in range(num_layers))
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(num_layers))
        self.readout = _mlp(dim, dim)

    def forward(self, node_type: torch.Tensor) -> torch.Tensor:
        B = node_type.shape[0]
        pos = torch.arange(NUM_DAG_NODES, device=node_type.device)
        h = (self.type_emb(node_type) + self.pos_emb(pos)).reshape(B * NUM_DAG_NODES, -1)
        ei = batch_edge_index(B).to(node_type.device)
        for fwd, bwd, mix, norm in zip(self.fwd, self.bwd, self.mix, self.norms):
            h = norm(h + mix(torch.cat([fwd(h, ei), bwd(h, ei.flip(0))], dim=1)))
        batch = torch.arange(B, device=node_type.device).repeat_interleave(NUM_DAG_NODES)
        return self.readout(_pyg()[1](h, batch, size=B))
