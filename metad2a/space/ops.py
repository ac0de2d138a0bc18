"""The NB201 operation vocabulary and edge layout (pure Python)."""

from __future__ import annotations

# Ops in the order MetaD2A and NB201 use for one-hot encodings.
OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")

# NASLib's integer op ids for its 6-tuple encoding.
NASLIB_OPS: tuple[str, ...] = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")

# Edges (source node, target node) in arch-string order: 0->1 | 0->2, 1->2 | 0->3, 1->3, 2->3.
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))

# NASLib tuple order (e01, e02, e03, e12, e13, e23) as positions in EDGES.
NASLIB_EDGE_ORDER: tuple[int, ...] = (0, 1, 3, 2, 4, 5)

NUM_NODES = 4
NUM_EDGES = len(EDGES)
NUM_CELLS = len(OPS) ** NUM_EDGES  # 15,625
PARAMETRIC_OPS = frozenset({"nor_conv_1x1", "nor_conv_3x3"})
