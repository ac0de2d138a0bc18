"""GRAF's graph features: hand-computed features of two cells and a brute-force cross-check with networkx."""

import networkx as nx
import numpy as np
import pytest

from metad2a.space import EDGES, all_archs, parse
from metad2a.space.graf import NO_PATH, NUM_FEATURES, OP_SUBSETS, feature_names, graf_features

# Edges (arch-string order) e0 0->1, e1 0->2, e2 1->2, e3 0->3, e4 1->3, e5 2->3.
# Input->output paths: P0 = e3; P1 = e0,e4; P2 = e1,e5; P3 = e0,e2,e5.
# Cell A: e0 conv3, e1 none, e2 skip, e3 pool, e4 conv1, e5 conv3
#   P0 = [pool], P1 = [conv3, conv1], P2 = [none, conv3], P3 = [conv3, skip, conv3]
#   edges out of the input: e0 conv3, e1 none, e3 pool; edges into the output: e3 pool, e4 conv1, e5 conv3
CELL_A = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|"
# Cell B: e0 skip, e1 conv1, e2 conv1, e3 none, e4 none, e5 skip
#   P0 = [none], P1 = [skip, none], P2 = [conv1, skip], P3 = [skip, conv1, skip]
#   out of the input: e0 skip, e1 conv1, e3 none; into the output: e3 none, e4 none, e5 skip
CELL_B = "|skip_connect~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|none~0|none~1|skip_connect~2|"

# (subset) -> (min_path, max_path, in_out, out_in, avg_out, avg_in), worked out from the comments above.
EXPECTED_A = {
    "nor_conv_3x3": (NO_PATH, 0, 1, 1, 0.5, 0.5),  # every path has a non-conv3 edge; 2 conv3 edges
    "nor_conv_1x1+nor_conv_3x3": (2, 2, 1, 2, 0.75, 0.75),  # only P1; e0 out, e4+e5 in; 3 edges
    "skip_connect+nor_conv_3x3": (3, 3, 1, 1, 0.75, 0.75),  # only P3; e0 out, e5 in; 3 edges
    "avg_pool_3x3": (1, 1, 1, 1, 0.25, 0.25),  # only P0
    "none": (NO_PATH, 0, 1, 0, 0.25, 0.25),  # e1 leaves the input but reaches the output only via conv3
    "none+skip_connect+nor_conv_1x1+nor_conv_3x3+avg_pool_3x3": (1, 3, 3, 3, 1.5, 1.5),
}
EXPECTED_B = {
    "skip_connect+nor_conv_1x1": (2, 3, 2, 1, 1.0, 1.0),  # P2 and P3; e0,e1 out, e5 in; 4 edges
    "skip_connect": (NO_PATH, 0, 1, 1, 0.5, 0.5),  # P2 and P3 need conv1
    "none": (1, 1, 1, 2, 0.5, 0.5),  # P0; e3 out, e3+e4 in
    "none+skip_connect": (1, 2, 2, 3, 1.0, 1.0),  # P0 and P1; e0,e3 out; e3,e4,e5 in
    "nor_conv_3x3": (NO_PATH, 0, 0, 0, 0.0, 0.0),
}
KINDS = ("min_path", "max_path", "in_out", "out_in", "avg_out", "avg_in")


def test_layout_has_191_named_features_over_31_subsets():
    assert len(set(OP_SUBSETS)) == 31 and all(OP_SUBSETS)
    names = feature_names()
    assert NUM_FEATURES == 191 == len(names) == len(set(names))
    assert graf_features(CELL_A).shape == (191,)


@pytest.mark.parametrize("arch, counts, expected", [
    (CELL_A, (1, 1, 1, 2, 1), EXPECTED_A),
    (CELL_B, (2, 2, 2, 0, 0), EXPECTED_B),
])
def test_hand_computed_features(arch, counts, expected):
    f = dict(zip(feature_names(), graf_features(arch)))
    assert tuple(f[f"count[{op}]"] for op in ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3",
                                                "avg_pool_3x3")) == counts
    for subset, values in expected.items():
        assert tuple(f[f"{k}[{subset}]"] for k in KINDS) == values, subset


def test_path_features_match_networkx_on_random_cells():
    archs = all_archs()
    rng = np.random.default_rng(0)
    names = feature_names()
    for arch in (archs[i] for i in rng.choice(len(archs), 60, replace=False)):
        f, ops = graf_features(arch), parse(arch)
        for j, s in enumerate(OP_SUBSETS):
            g = nx.DiGraph([e for e, op in zip(EDGES, ops) if op in s])
            paths = [len(p) - 1 for p in nx.all_simple_paths(g, 0, 3)] if g.has_node(0) and g.has_node(3) else []
            # Blocks are feature-major: 5 counts, then 31 min_path, then 31 max_path, ...
            assert names[5 + j].startswith("min_path[") and names[36 + j].startswith("max_path[")
            assert f[5 + j] == min(paths, default=NO_PATH)
            assert f[36 + j] == max(paths, default=0)


def test_costs_are_appended_when_asked():
    f = graf_features(CELL_A, with_costs=True)
    assert f.shape == (193,) and f[-2] > 0 and f[-1] > 0
