"""Graph views of an NB201 cell (pure Python, plus an optional networkx view).

MetaD2A's op-as-node DAG has 8 nodes: START, the 6 edge ops in arch-string order, END.
Its wiring is the same for every cell (op k feeds op k' when k's target node is k''s
source node); only the node types differ, which is what makes 100%-valid decoding easy.
"""

from __future__ import annotations

from collections import Counter

from metad2a.space.arch import parse
from metad2a.space.ops import EDGES, OPS

NODE_TYPES: tuple[str, ...] = ("input",) + OPS + ("output",)
NUM_NODE_TYPES = len(NODE_TYPES)  # 7
NUM_DAG_NODES = len(EDGES) + 2  # 8
START, END = 0, NUM_DAG_NODES - 1


def _dag_edges() -> tuple[tuple[int, int], ...]:
    edges = []
    for k, (src, dst) in enumerate(EDGES):
        if src == 0:
            edges.append((START, k + 1))
        if dst == 3:
            edges.append((k + 1, END))
        for k2, (src2, _) in enumerate(EDGES):
            if src2 == dst:
                edges.append((k + 1, k2 + 1))
    return tuple(sorted(edges))


DAG_EDGES: tuple[tuple[int, int], ...] = _dag_edges()


def dag_adjacency() -> list[list[int]]:
    """(8, 8) 0/1 adjacency, ``A[i][j] = 1`` for an edge i -> j; nodes are topologically ordered."""
    adj = [[0] * NUM_DAG_NODES for _ in range(NUM_DAG_NODES)]
    for i, j in DAG_EDGES:
        adj[i][j] = 1
    return adj


def node_types(arch: str) -> list[int]:
    """Type ids (into NODE_TYPES) of the 8 DAG nodes."""
    return [0] + [NODE_TYPES.index(op) for op in parse(arch)] + [NUM_NODE_TYPES - 1]


def node_one_hot(arch: str) -> list[list[int]]:
    """(8, 7) one-hot node types."""
    return [[int(t == k) for k in range(NUM_NODE_TYPES)] for t in node_types(arch)]


def to_networkx(arch: str):
    """The op-as-node DAG as a ``networkx.DiGraph`` whose nodes carry ``op`` labels."""
    import networkx as nx

    g = nx.DiGraph()
    for n, t in enumerate(node_types(arch)):
        g.add_node(n, op=NODE_TYPES[t])
    g.add_edges_from(DAG_EDGES)
    return g


def op_counts(arch: str) -> dict[str, int]:
    """How many of the 6 edges carry each op (all 5 ops present as keys)."""
    c = Counter(parse(arch))
    return {op: c.get(op, 0) for op in OPS}
