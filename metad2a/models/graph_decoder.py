"""A D-VAE-style sequential decoder of NB201 cells, valid by construction.

D-VAE (Zhang et al., NeurIPS 2019) generates a DAG node by node in topological order: each new
node's type is predicted from the graph state, then a GRU updates the node's hidden state from
its type and a gated sum of its predecessors' states. In NB201's op-as-node DAG the wiring is
fixed (``space.DAG_EDGES``), so the edge-prediction step disappears and the decoder only picks
the 6 op-node types; START and END are fixed. The type head's logits for START/END are masked
to -inf, so every sample is one of the 15,625 valid cells (100% validity, no rejection).

For op node v = 1..6, with z the latent code and h_0 = tanh(W z):

    a_v      = sum_{u -> v} sigmoid(W_g h_u) * (W_m h_u) + p_v    gated sum of predecessor states
    logits_v = MLP([a_v ; h_{v-1} ; h_0]) + mask                   h_{v-1}: the last node's state
    t_v      ~ softmax(logits_v / T)  (or the true type when teacher forcing)
    h_v      = GRU(emb(t_v), a_v)

The last node's state h_{v-1} carries D-VAE's "graph state", so decisions on sibling edges
that share no path (e.g. edges 0->1 and 0->2) still see each other. p_v is a learned embedding
of the node's position: several op nodes share the same predecessors (edges 1->2 and 1->3
both follow only edge 0->1), and without it they would get identical logits whenever the
nodes before them decoded alike.
"""

from __future__ import annotations

import torch
from torch import nn

from metad2a.space import DAG_EDGES, NODE_TYPES, NUM_DAG_NODES, NUM_NODE_TYPES, OPS, format_cell

START_TYPE, END_TYPE = 0, NUM_NODE_TYPES - 1
OP_NODES = range(1, NUM_DAG_NODES - 1)  # the 6 decoded nodes
PREDECESSORS: tuple[tuple[int, ...], ...] = tuple(
    tuple(u for u, w in DAG_EDGES if w == v) for v in range(NUM_DAG_NODES)
)


class GraphDecoder(nn.Module):
    """z: (B, latent_dim) -> logits (B, 6, 7) over node types, and node types (B, 8)."""

    def __init__(self, latent_dim: int, dim: int = 128):
        super().__init__()
        self.init = nn.Linear(latent_dim, dim)
        self.type_emb = nn.Embedding(NUM_NODE_TYPES, dim)
        self.pos_emb = nn.Embedding(NUM_DAG_NODES, dim)
        self.gru = nn.GRUCell(dim, dim)
        self.gate, self.mapper = nn.Linear(dim, dim), nn.Linear(dim, dim, bias=False)
        self.head = nn.Sequential(nn.Linear(3 * dim, dim), nn.ReLU(), nn.Linear(dim, NUM_NODE_TYPES))
        mask = torch.full((NUM_NODE_TYPES,), float("-inf"))
        mask[[NODE_TYPES.index(op) for op in OPS]] = 0.0
        self.register_buffer("type_mask", mask, persistent=False)

    def forward(
        self,
        z: torch.Tensor,
        node_type: torch.Tensor | None = None,
        temperature: float = 1.0,
        greedy: bool = False,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher-forced when ``node_type`` (B, 8) is given; otherwise samples (or argmax if greedy).

        Returns (logits (B, 6, 7) with non-op types at -inf, node types (B, 8)).
        """
        B = z.shape[0]
        h0 = torch.tanh(self.init(z))
        start = torch.full((B,), START_TYPE, dtype=torch.long, device=z.device)
        types, states, logits = [start], [self.gru(self.type_emb(start), h0)], []
        for v in OP_NODES:
            hp = torch.stack([states[u] for u in PREDECESSORS[v]])  # (P, B, dim)
            a = (torch.sigmoid(self.gate(hp)) * self.mapper(hp)).sum(0) + self.pos_emb.weight[v]
            lv = self.head(torch.cat([a, states[-1], h0], dim=1)) + self.type_mask
            logits.append(lv)
            if node_type is not None:
                t = node_type[:, v]
            elif greedy:
                t = lv.argmax(1)
            else:
                probs = torch.softmax(lv / temperature, dim=1)
                t = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            types.append(t)
            states.append(self.gru(self.type_emb(t), a))
        types.append(torch.full_like(start, END_TYPE))
        return torch.stack(logits, dim=1), torch.stack(types, dim=1)


def types_to_archs(node_type: torch.Tensor) -> list[str]:
    """(B, 8) node-type ids -> NB201 arch strings (raises InvalidArchError on a non-op type)."""
    return [format_cell([NODE_TYPES[t] for t in row[1:-1]]) for row in node_type.tolist()]
