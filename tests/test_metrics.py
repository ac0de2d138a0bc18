"""Ranking metrics against hand-counted values, and the generated-cell quality rates."""

import math
import time

import numpy as np
import pytest

from metad2a.metrics import (
    _ranks,
    kendall_tau,
    monotonicity_violations,
    pick_percentile,
    spearman,
    top1_regret,
)
from metad2a.space.quality import has_input_output_path, sample_quality


def test_perfect_and_reversed_are_exact():
    x = [0.4978, 0.5294, 0.5585, 0.5863, 0.6137, 0.6415, 0.6706, 0.7022]
    y = np.linspace(0.5, 0.7, 8)
    assert kendall_tau(x, y) == 1.0 and spearman(x, y) == 1.0  # exactly: callers compare with ==
    assert kendall_tau(x, y[::-1]) == -1.0 and spearman(x, y[::-1]) == -1.0
    assert monotonicity_violations(x, y[::-1]) == 28


@pytest.mark.parametrize("a,b,tau", [
    # one swapped pair of 6: concordant 5, discordant 1 -> (5 - 1) / 6
    ([1, 2, 3, 4], [1, 3, 2, 4], 4 / 6),
    # a tie in a only: C 5, D 0; tau-b = 5 / sqrt((6 - 1) * 6)
    ([1, 2, 2, 3], [1, 3, 2, 4], 5 / math.sqrt(30)),
    # one tie on each side, in different pairs: C 4, D 0; 4 / sqrt(5 * 5)
    ([1, 1, 2, 3], [1, 2, 2, 3], 0.8),
    # C 1, D 1, the other 4 pairs tied on one side: 0
    ([1, 1, 2, 2], [1, 2, 1, 2], 0.0),
    # -inf (a singular NASWOT kernel) is a valid lowest score
    ([-np.inf, 1.0, 2.0], [0, 1, 2], 1.0),
])
def test_kendall_tau_b_hand_counted(a, b, tau):
    assert kendall_tau(a, b) == pytest.approx(tau)
    assert kendall_tau(b, a) == pytest.approx(tau)


def test_spearman_hand_computed_with_ties():
    # 1 - 6 * sum(d^2) / (n (n^2 - 1)) = 1 - 6 * 2 / 60
    assert spearman([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    # ranks (1, 2.5, 2.5, 4) vs (1, 2, 3, 4): Pearson = 4.5 / sqrt(4.5 * 5)
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(math.sqrt(0.9))


@pytest.mark.parametrize("a,b", [
    ([1, 2, np.nan, 4], [1, 2, 3, 4]),  # a NaN has no rank
    ([1, 2, 3], [np.nan, 2, 3]),
    ([1, 1, 1], [1, 2, 3]),  # constant
    ([1], [2]),  # too short
    ([], []),
])
def test_undefined_correlations_are_nan(a, b):
    assert math.isnan(kendall_tau(a, b)) and math.isnan(spearman(a, b))


def test_length_mismatch_raises():
    with pytest.raises(ValueError, match="lengths differ"):
        kendall_tau([1, 2], [1, 2, 3])


def test_kendall_is_fast_on_a_whole_search_space():
    """O(n log n): 20,000 cells take milliseconds (the O(n^2) version took tens of seconds)."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=20_000)
    b = a + rng.normal(size=20_000)
    t0 = time.perf_counter()
    tau = kendall_tau(a, b)
    assert time.perf_counter() - t0 < 1.0
    assert 0.4 < tau < 0.6  # two normals with correlation 1/sqrt(2): tau = (2 / pi) asin(0.707) = 0.5


def test_average_ranks_of_ties():
    assert _ranks(np.array([3.0, 1.0, 3.0, 2.0])).tolist() == [2.5, 0.0, 2.5, 1.0]


def test_regret_and_percentile():
    true = [70.0, 90.0, 80.0, 60.0]
    assert top1_regret([0.1, 0.2, 0.9, 0.0], true) == pytest.approx(10.0)
    assert pick_percentile([0.1, 0.2, 0.9, 0.0], true) == pytest.approx(100 * 2 / 3)
    assert pick_percentile([0, 1, 0, 0], true) == 100.0
    assert top1_regret([0, 1, 0, 0], true) == 0.0


# ---------------------------------------------------------------- generated cells

ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
DIRECT_SKIP = "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
# 0->1 conv and 2->3 conv, but nothing joins node 1 to node 2 or 3: no input-output path
BROKEN_CHAIN = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|"
VIA_BOTH = "|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|none~0|none~1|nor_conv_1x1~2|"  # 0 -> 1 -> 2 -> 3
SKIP_TWIN = "|skip_connect~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|"  # x -> 1 -> 3 by skips: DIRECT_SKIP


def test_input_output_path():
    assert not has_input_output_path(ALL_NONE)
    assert not has_input_output_path(BROKEN_CHAIN)
    assert has_input_output_path(DIRECT_SKIP) and has_input_output_path(VIA_BOTH)


def test_sample_quality_rates_can_fall_short():
    samples = [VIA_BOTH, VIA_BOTH, ALL_NONE, BROKEN_CHAIN, DIRECT_SKIP, SKIP_TWIN, "|bad~0|", "nonsense"]
    q = sample_quality(samples, reference=[DIRECT_SKIP])
    assert q["n"] == 8 and q["validity"] == 6 / 8
    assert q["connected"] == 3 / 8 + 1 / 8  # VIA_BOTH twice, DIRECT_SKIP, SKIP_TWIN
    # distinct up to NB201 equivalence: VIA_BOTH, ALL_NONE, BROKEN_CHAIN, DIRECT_SKIP (= SKIP_TWIN)
    assert q["uniqueness"] == pytest.approx(4 / 8)
    assert q["novelty"] == pytest.approx(3 / 4)  # DIRECT_SKIP's class was seen


def test_sample_quality_of_nothing():
    assert sample_quality([]) == {"n": 0, "validity": 0.0, "connected": 0.0, "uniqueness": 0.0, "novelty": 0.0}
