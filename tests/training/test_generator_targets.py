import math

import numpy as np

from metad2a.training.generator_targets import select_targets


def test_targets_top_fraction_capped_and_weighted():
    archs = [f"a{i}" for i in range(30)]
    accs = np.arange(30, dtype=float)  # a29 best, one point apart
    top, w = select_targets(archs, accs, top_k=5, top_frac=0.2, temperature=1.0)
    assert top == ["a29", "a28", "a27", "a26", "a25"]
    assert math.isclose(w.sum(), 1.0) and np.all(np.diff(w) < 0)
    assert math.isclose(w[1] / w[0], math.exp(-1.0))
    top, _ = select_targets(archs[:10], accs[:10], top_k=5, top_frac=0.2)
    assert top == ["a9", "a8"]  # 20% of 10
    assert select_targets(["x"], [1.0])[0] == ["x"]
    # repeated evaluations of one cell are merged (mean accuracy)
    top, w = select_targets(["x", "y", "x"], [50.0, 49.0, 46.0], top_k=1)
    assert top == ["y"] and w.tolist() == [1.0]
