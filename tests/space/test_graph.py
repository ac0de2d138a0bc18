import sys

import pytest

from metad2a.space import NODE_TYPES, dag_adjacency, node_one_hot, node_types, op_counts, to_networkx

ARCH = "|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"


def test_space_is_torch_free():
    import subprocess

    code = "import sys, metad2a.space; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_dag_adjacency_is_upper_triangular_and_fixed():
    adj = dag_adjacency()
    assert len(adj) == 8 and all(len(r) == 8 for r in adj)
    assert all(adj[i][j] == 0 for i in range(8) for j in range(i + 1))
    # START feeds the three edges leaving node 0 (string positions 0, 1, 3 -> nodes 1, 2, 4).
    assert [j for j in range(8) if adj[0][j]] == [1, 2, 4]
    # END receives the three edges entering node 3 (positions 3, 4, 5 -> nodes 4, 5, 6).
    assert [i for i in range(8) if adj[i][7]] == [4, 5, 6]
    # Edge 0->1 (node 1) feeds edges leaving node 1: 1->2 and 1->3 (nodes 3, 5).
    assert [j for j in range(8) if adj[1][j]] == [3, 5]


def test_node_types_and_one_hot():
    t = node_types(ARCH)
    assert [NODE_TYPES[i] for i in t] == [
        "input", "nor_conv_3x3", "avg_pool_3x3", "none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "output"
    ]
    oh = node_one_hot(ARCH)
    assert len(oh) == 8 and all(sum(r) == 1 and len(r) == 7 for r in oh)


def test_networkx_and_counts():
    g = to_networkx(ARCH)
    assert g.number_of_nodes() == 8 and g.number_of_edges() == sum(map(sum, dag_adjacency()))
    assert g.nodes[1]["op"] == "nor_conv_3x3"
    c = op_counts(ARCH)
    assert c == {"none": 1, "skip_connect": 1, "nor_conv_1x1": 1, "nor_conv_3x3": 2, "avg_pool_3x3": 1}
    assert sum(c.values()) == 6


def test_pyg_data():
    torch = pytest.importorskip("torch")
    from metad2a.space.pyg import to_pyg

    d = to_pyg(ARCH)
    assert d.x.shape == (8, 7) and d.edge_index.shape[0] == 2
    assert torch.equal(d.x.argmax(1), torch.tensor(node_types(ARCH)))
