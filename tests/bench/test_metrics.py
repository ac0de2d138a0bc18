"""Benchmark metrics on hand-computed values, and agreement with the project's own metrics."""

import math

import numpy as np
import pytest

from metad2a.bench.metrics import (
    Population,
    aggregate_tasks,
    mean_ranks,
    mean_std,
    median_seconds,
    percentile_among,
    pick_metrics,
    rank_metrics,
    ranks,
    regret,
    summarize_runs,
)
from metad2a.database.task_data import TaskData
from metad2a.metrics import pick_percentile, top1_regret
from metad2a.training.evaluate import random_baseline


def test_percentile_counts_the_share_strictly_below():
    assert percentile_among(5.0, [1.0, 2.0, 3.0, 10.0]) == 75.0
    assert percentile_among(3.0, [3.0, 1.0]) == 50.0  # a tie is not beaten
    assert percentile_among(0.0, [1.0, 2.0]) == 0.0
    assert percentile_among(1.0, []) == 100.0


def test_regret_is_best_minus_pick_and_may_be_negative():
    assert regret(25.0, [10.0, 20.0, 30.0, 40.0]) == 15.0
    assert regret(45.0, [10.0, 20.0, 30.0, 40.0]) == -5.0


def test_pick_metrics_inside_and_outside_the_evaluated_cells():
    accs = [10.0, 20.0, 30.0, 40.0]
    assert pick_metrics(40.0, accs, index=3) == {"accuracy": 40.0, "percentile": 100.0, "regret": 0.0}
    assert pick_metrics(10.0, accs, index=0) == {"accuracy": 10.0, "percentile": 0.0, "regret": 30.0}
    # outside: compared with all four evaluated cells
    assert pick_metrics(25.0, accs) == {"accuracy": 25.0, "percentile": 50.0, "regret": 15.0}
    assert pick_metrics(45.0, accs) == {"accuracy": 45.0, "percentile": 100.0, "regret": -5.0}


def test_an_evaluated_pick_matches_metad2a_metrics():
    accs = np.random.default_rng(0).uniform(50, 90, 17)
    for i in range(len(accs)):
        scores = np.zeros(len(accs))
        scores[i] = 1.0  # a scorer whose top cell is i
        m = pick_metrics(accs[i], accs, index=i)
        assert m["percentile"] == pytest.approx(pick_percentile(scores, accs))
        assert m["regret"] == pytest.approx(top1_regret(scores, accs))


def test_uniform_picks_average_to_the_random_baseline():
    accs = np.random.default_rng(1).uniform(50, 90, 23)
    rows = [pick_metrics(a, accs, index=i) for i, a in enumerate(accs)]
    base = random_baseline([TaskData("t", "test", np.zeros((2, 1, 1)), [f"a{i}" for i in range(23)], accs)])[0]
    assert np.mean([r["percentile"] for r in rows]) == pytest.approx(base["pick_percentile"])
    assert np.mean([r["regret"] for r in rows]) == pytest.approx(base["top1_regret"])
    assert np.mean([r["accuracy"] for r in rows]) == pytest.approx(accs.mean())


def test_rank_metrics():
    accs = [1.0, 2.0, 3.0, 4.0]
    assert rank_metrics([10, 20, 30, 40], accs) == {"spearman": pytest.approx(1.0), "kendall": pytest.approx(1.0)}
    assert rank_metrics([4, 3, 2, 1], accs) == {"spearman": pytest.approx(-1.0), "kendall": pytest.approx(-1.0)}
    assert rank_metrics([1, 2, 4, 3], accs)["spearman"] == pytest.approx(0.8)
    assert all(math.isnan(v) for v in rank_metrics(None, accs).values())


def test_mean_std_median_and_ranks():
    assert mean_std([1.0, 2.0, 3.0, float("nan")]) == (2.0, 1.0)  # sample std, nan skipped
    assert mean_std([5.0]) == (5.0, 0.0)
    assert all(math.isnan(v) for v in mean_std([float("nan")]))
    assert median_seconds([3.0, 1.0, 2.0]) == 2.0
    assert ranks([1.0, 3.0, 2.0]).tolist() == [2, 0, 1]


def test_summaries_over_seeds_and_over_tasks():
    runs = [{"accuracy": 80.0, "percentile": 90.0, "regret": 2.0, "spearman": 0.5, "kendall": 0.4, "cells_trained": 0},
            {"accuracy": 82.0, "percentile": 100.0, "regret": 0.0, "spearman": 0.7, "kendall": 0.6, "cells_trained": 0}]
    s = summarize_runs(runs, [0.3, 0.1, 0.2])
    assert s["n_seeds"] == 2 and s["accuracy"] == 81.0 and s["accuracy_std"] == pytest.approx(np.sqrt(2.0))
    assert s["percentile"] == 95.0 and s["spearman"] == pytest.approx(0.6) and s["search_s"] == 0.2
    t = summarize_runs(runs[:1], [1.0])
    agg = aggregate_tasks([s, t])
    assert agg["n_tasks"] == 2 and agg["n_seeds"] == 2
    assert agg["accuracy"] == 80.5 and agg["accuracy_std"] == pytest.approx(np.std([81.0, 80.0], ddof=1))
    assert agg["search_s"] == pytest.approx(0.6)


def test_a_population_ranks_picks_as_percentile_among_does():
    rng = np.random.default_rng(2)
    accs = np.round(rng.uniform(50, 90, 40), 1)  # rounded: ties happen
    pop = Population(accs)
    for i, a in enumerate(accs):  # a member: compared with the others only
        assert pop.pick_metrics(a, member=True) == pytest.approx(pick_metrics(a, accs, index=i))
        assert pop.pick_metrics(a, member=True)["percentile"] == pytest.approx(
            percentile_among(a, np.delete(accs, i)))
    for v in (10.0, 70.05, 95.0):  # outside: compared with all
        assert pop.pick_metrics(v, member=False)["percentile"] == pytest.approx(percentile_among(v, accs))
        assert pop.pick_metrics(v, member=False)["regret"] == pytest.approx(accs.max() - v)
    assert Population([5.0]).pick_metrics(5.0, member=True)["percentile"] == 100.0


def test_rank_metrics_use_only_the_scored_cells():
    accs = [1.0, 2.0, 3.0, 4.0, 5.0]
    scores = [10.0, float("nan"), 30.0, float("nan"), 20.0]  # scored: cells 0, 2, 4 -> ranks 1, 3, 2
    assert rank_metrics(scores, accs)["spearman"] == pytest.approx(0.5)


def test_mean_rank_by_hand_with_a_tie_and_a_missing_row():
    acc = {"d1": {"a": 90.0, "b": 80.0, "c": 70.0},
           "d2": {"a": 60.0, "b": 60.0, "c": 65.0},         # a and b tie for ranks 2 and 3: 2.5 each
           "d3": {"a": 50.0, "b": float("nan"), "c": 55.0}}  # b has no accuracy: left out of d3
    r = mean_ranks(acc)
    assert r["a"]["ranks"] == {"d1": 1.0, "d2": 2.5, "d3": 2.0} and r["a"]["mean_rank"] == pytest.approx(5.5 / 3)
    assert r["b"]["ranks"] == {"d1": 2.0, "d2": 2.5} and r["b"]["n_datasets"] == 2
    assert r["b"]["mean_rank"] == pytest.approx(2.25)
    assert r["c"]["ranks"] == {"d1": 3.0, "d2": 1.0, "d3": 1.0} and r["c"]["mean_rank"] == pytest.approx(5 / 3)
    assert list(r) == ["a", "b", "c"]
    assert math.isnan(mean_ranks({"d": {"x": None}})["x"]["mean_rank"])
