"""ANASOD encoding, sampling, neighbours and the three searches on a synthetic oracle."""

import itertools
import zlib

import numpy as np
import pytest

from metad2a.errors import InvalidArchError
from metad2a.search import (
    all_distributions, anasod_local_search, anasod_random_order, anasod_random_search, cells_of, counts_of, encode,
    neighbours, random_search_cells, sample_cell,
)
from metad2a.space import OPS, all_archs, format_cell

SEARCHES = (random_search_cells, anasod_random_search, anasod_local_search)
BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def synthetic_acc(arch: str) -> float:
    """A deterministic oracle favouring conv3x3 and skip, with a per-cell tie-breaker."""
    c = counts_of(arch)
    return 10 * c[3] + 4 * c[1] - 3 * c[0] + (zlib.crc32(arch.encode()) % 1000) / 1000


def test_exactly_210_distributions_that_partition_all_cells():
    dists = all_distributions()
    assert len(dists) == len(set(dists)) == 210
    assert all(len(d) == len(OPS) and sum(d) == 6 and min(d) >= 0 for d in dists)
    assert sum(len(cells_of(d)) for d in dists) == 5 ** 6


def test_encode_is_counts_over_six():
    np.testing.assert_allclose(encode(BEST), [0, 1 / 6, 0, 5 / 6, 0])
    assert counts_of(BEST) == (0, 1, 0, 5, 0)


@pytest.mark.parametrize("dist", [(6, 0, 0, 0, 0), (1, 1, 1, 2, 1), (0, 2, 0, 3, 1), (2, 2, 2, 0, 0)])
def test_sampling_preserves_counts_and_is_seeded(dist):
    rng = np.random.default_rng(0)
    cells = [sample_cell(dist, rng) for _ in range(50)]
    assert all(counts_of(c) == dist for c in cells)
    again = np.random.default_rng(0)
    assert cells == [sample_cell(dist, again) for _ in range(50)]


def test_sampling_reaches_every_cell_and_skips_excluded():
    dist = (0, 1, 0, 5, 0)  # 6 cells: where the single skip goes
    rng = np.random.default_rng(1)
    assert {sample_cell(dist, rng) for _ in range(200)} == set(cells_of(dist))
    seen = set(cells_of(dist)[:-1])
    assert sample_cell(dist, rng, seen) == cells_of(dist)[-1]
    assert sample_cell(dist, rng, set(cells_of(dist))) is None


def test_invalid_distribution_says_what_is_expected():
    with pytest.raises(InvalidArchError, match="summing to 6"):
        sample_cell((1, 1, 1, 1, 1), np.random.default_rng(0))


def test_neighbours_are_valid_distributions_one_move_away():
    for d in all_distributions():
        nbrs = neighbours(d)
        assert len(nbrs) == len(set(nbrs)) == 4 * sum(c > 0 for c in d)
        for n in nbrs:
            assert n in all_distributions()
            diff = np.subtract(n, d)
            assert sorted(diff) == [-1, 0, 0, 0, 1]


def test_neighbours_of_a_pure_distribution():
    assert set(neighbours((0, 0, 0, 6, 0))) == {(1, 0, 0, 5, 0), (0, 1, 0, 5, 0), (0, 0, 1, 5, 0), (0, 0, 0, 5, 1)}


@pytest.mark.parametrize("search", SEARCHES)
@pytest.mark.parametrize("budget", [1, 7, 60])
def test_search_respects_budget_and_queries_distinct_cells(search, budget):
    calls = []

    def acc(arch):
        calls.append(arch)
        return synthetic_acc(arch)

    hist = search(acc, budget, seed=3)
    assert len(hist.archs) == len(hist.accs) == len(calls) == budget
    assert len(set(hist.archs)) == budget
    assert hist.accs == [synthetic_acc(a) for a in hist.archs]


@pytest.mark.parametrize("search", SEARCHES)
def test_best_is_never_worse_than_anything_seen(search):
    hist = search(synthetic_acc, 80, seed=5)
    running = hist.best_so_far()
    assert np.all(np.diff(running) >= 0)
    for n in (1, 10, 80):
        arch, acc = hist.best(n)
        assert acc == running[n - 1] == max(hist.accs[:n])
        assert synthetic_acc(arch) == acc


@pytest.mark.parametrize("search", SEARCHES)
def test_search_is_reproducible_per_seed(search):
    assert search(synthetic_acc, 30, seed=11).archs == search(synthetic_acc, 30, seed=11).archs
    assert search(synthetic_acc, 30, seed=11).archs != search(synthetic_acc, 30, seed=12).archs


def test_local_search_climbs_on_a_smooth_oracle():
    # On an oracle that only depends on the distribution, local search should find the top one.
    best = max(anasod_local_search(synthetic_acc, 150, seed=s).best()[1] for s in range(3))
    assert best >= 10 * 6  # all-conv3x3 distribution reached


@pytest.mark.parametrize("budget", [0, 5 ** 6 + 1])
def test_budget_out_of_range_raises(budget):
    with pytest.raises(ValueError, match="budget"):
        random_search_cells(synthetic_acc, budget)


def test_cells_of_matches_brute_force_for_one_distribution():
    dist = (2, 0, 1, 3, 0)
    brute = {format_cell(c) for c in itertools.product(OPS, repeat=6) if counts_of(format_cell(c)) == dist}
    assert set(cells_of(dist)) == brute and len(brute) == 60  # 6! / (2! 1! 3!)


def test_anasod_random_order_queries_distinct_cells_and_draws_distributions_uniformly():
    pool = all_archs()
    common = (0, 0, 3, 3, 0)  # three 1x1 and three 3x3 convolutions: 20 cells
    same = [a for a in pool if counts_of(a) == common][:9]
    lone = next(a for a in pool if counts_of(a) != common)
    archs = same + [lone]
    assert sorted(anasod_random_order(archs, 100, np.random.default_rng(0))) == list(range(10))
    order = anasod_random_order(archs, 4, np.random.default_rng(3))
    assert len(order) == len(set(order)) == 4 and order == anasod_random_order(archs, 4, np.random.default_rng(3))
    # Two distributions: the lone cell's is drawn first half the time, not 1 time in 10.
    first = [anasod_random_order(archs, 1, np.random.default_rng(s))[0] for s in range(400)]
    assert 0.4 < np.mean([i == 9 for i in first]) < 0.6
