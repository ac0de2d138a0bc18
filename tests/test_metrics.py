import math

import numpy as np
import pytest

from metad2a.metrics import kendall_tau, monotonicity_violations, pick_percentile, spearman, top1_regret


def test_perfect_and_reversed():
    x = [1, 2, 3, 4, 5]
    assert spearman(x, x) == pytest.approx(1.0)
    assert kendall_tau(x, x[::-1]) == pytest.approx(-1.0)
    assert monotonicity_violations(x, x[::-1]) == 10


def test_known_values_with_ties():
    a = [1, 2, 2, 3]
    b = [1, 3, 2, 4]
    # tau-b: concordant 5, discordant 0, one tie in a only -> 5 / sqrt(5*6)
    assert kendall_tau(a, b) == pytest.approx(5 / math.sqrt(30))
    assert spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)


def test_kendall_matches_bruteforce_on_random():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 5, 60), rng.normal(size=60)
    c = d = ta = tb = 0
    for i in range(60):
        for j in range(i + 1, 60):
            s = np.sign(a[i] - a[j]) * np.sign(b[i] - b[j])
            c += s > 0
            d += s < 0
            ta += a[i] == a[j] and b[i] != b[j]
            tb += b[i] == b[j] and a[i] != a[j]
    assert kendall_tau(a, b) == pytest.approx((c - d) / math.sqrt((c + d + ta) * (c + d + tb)))


def test_constant_gives_nan():
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_regret_and_percentile():
    true = [70.0, 90.0, 80.0, 60.0]
    assert top1_regret([0.1, 0.2, 0.9, 0.0], true) == pytest.approx(10.0)
    assert pick_percentile([0.1, 0.2, 0.9, 0.0], true) == pytest.approx(100 * 2 / 3)
    assert pick_percentile([0, 1, 0, 0], true) == 100.0
    assert top1_regret([0, 1, 0, 0], true) == 0.0
