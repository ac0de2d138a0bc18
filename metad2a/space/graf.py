"""GRAF's neural graph features of an NB201 cell (Kadlecová et al., ICML 2024): a pure function of the arch string.

The cell is a DAG on nodes 0 (input) .. 3 (output) with the 6 edges of ``EDGES``, each
labelled with its op. ``none`` is a label like any other here (as in GRAF's NB201 features), so
subsets containing ``none`` see those edges too. The 191 features, in this order:

    [0:5]      op counts, in ``OPS`` order
    then 6 blocks of 31, one entry per non-empty op subset S (``OP_SUBSETS`` order: bitmask 1..31,
    bit i = OPS[i]):
    min_path   fewest edges on an input->output path whose edges all carry ops in S
               (NO_PATH = 4, one more than the longest possible path, when there is none)
    max_path   most edges on such a path (0 when there is none); GRAF's "max ops on a path"
    in_out     out-degree of the input node counting only S-edges (edges 0->1, 0->2, 0->3)
    out_in     in-degree of the output node counting only S-edges (edges 0->3, 1->3, 2->3)
    avg_out    mean out-degree over the 4 nodes, S-edges only
    avg_in     mean in-degree over the 4 nodes, S-edges only

5 + 31 * 6 = 191. Over all 4 nodes both averages equal |S-edges| / 4, exactly as in GRAF's
definition; they are kept so the layout matches the published 191. ``with_costs=True`` appends
FLOPs (M, 32x32 input) and params (M) of the C=16, N=5 network; both are linear in the conv counts
on NB201, so they add nothing a forest cannot already split on.

They live in the space, not with the GRAF predictor, because the meta-predictor's cell encoding
(``models.cell_features``) needs them too and neither should need the other's layer.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np

from metad2a.space.arch import parse
from metad2a.space.graph import op_counts
from metad2a.space.ops import EDGES, OPS

NO_PATH = 4
# All input->output paths of the NB201 cell, as positions in EDGES: 0->3, 0->1->3, 0->2->3, 0->1->2->3.
PATHS: tuple[tuple[int, ...], ...] = ((3,), (0, 4), (1, 5), (0, 2, 5))
OP_SUBSETS: tuple[frozenset[str], ...] = tuple(
    frozenset(op for i, op in enumerate(OPS) if mask >> i & 1) for mask in range(1, 2 ** len(OPS))
)
SUBSET_FEATURES = ("min_path", "max_path", "in_out", "out_in", "avg_out", "avg_in")
NUM_FEATURES = len(OPS) + len(SUBSET_FEATURES) * len(OP_SUBSETS)  # 191

_FROM_INPUT = tuple(k for k, (s, _) in enumerate(EDGES) if s == 0)
_INTO_OUTPUT = tuple(k for k, (_, d) in enumerate(EDGES) if d == 3)


def feature_names(with_costs: bool = False) -> list[str]:
    """Names of the ``graf_features`` columns, e.g. ``min_path[nor_conv_1x1+nor_conv_3x3]``."""
    names = [f"count[{op}]" for op in OPS]
    for feat in SUBSET_FEATURES:
        names += [f"{feat}[{'+'.join(op for op in OPS if op in s)}]" for s in OP_SUBSETS]
    return names + (["flops", "params"] if with_costs else [])


def subset_features(ops: Sequence[str], allowed: frozenset[str]) -> tuple[float, ...]:
    """The 6 per-subset features of one cell (6 op names in EDGES order), in SUBSET_FEATURES order."""
    lengths = [len(p) for p in PATHS if all(ops[k] in allowed for k in p)]
    n_edges = sum(op in allowed for op in ops)
    return (
        min(lengths, default=NO_PATH),
        max(lengths, default=0),
        sum(ops[k] in allowed for k in _FROM_INPUT),
        sum(ops[k] in allowed for k in _INTO_OUTPUT),
        n_edges / 4,  # sum of out-degrees = sum of in-degrees = number of S-edges, over 4 nodes
        n_edges / 4,
    )


@lru_cache(maxsize=None)
def _costs(arch: str) -> tuple[float, float]:
    from metad2a.space.network import build_model, count_flops, count_params  # torch only when asked

    model = build_model(arch, 10)
    return count_flops(model, (3, 32, 32)) / 1e6, count_params(model) / 1e6


def graf_features(arch: str, with_costs: bool = False) -> np.ndarray:
    """GRAF features of one NB201 arch string: (191,) float64, or (193,) with FLOPs and params."""
    ops = parse(arch)
    per_subset = np.array([subset_features(ops, s) for s in OP_SUBSETS], dtype=np.float64)  # (31, 6)
    counts = np.array(list(op_counts(arch).values()), dtype=np.float64)
    feats = np.concatenate([counts, per_subset.T.reshape(-1)])  # feature-major, as feature_names()
    return np.concatenate([feats, _costs(arch)]) if with_costs else feats
