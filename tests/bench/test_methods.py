"""Method building blocks and the simple methods, on hand-made tasks (no database)."""

import numpy as np
import pytest

from metad2a.bench.ground_truth import GroundTruth
from metad2a.bench.methods import (
    ANASOD,
    NASWOT,
    Oracle,
    RandomChoice,
    dedup_canonical,
    most_frequent,
)
from metad2a.bench.runner import evaluate_run
from metad2a.errors import MetaD2AError
from metad2a.search import anasod_random_order
from metad2a.space import canonical_form, unique_cells
from metad2a.training.evaluate import random_baseline
from tests.bench.conftest import A, A_SAME, B, make_task


def test_canonical_duplicates_are_merged_and_counted_together():
    assert canonical_form(A) == canonical_form(A_SAME) != canonical_form(B)
    assert dedup_canonical([A, A_SAME, B, A]) == [A, B]
    assert most_frequent([B, A_SAME, A]) == A_SAME  # A's class has two samples; its first one represents it
    assert most_frequent([B, A]) == B  # a tie goes to the form sampled first
    with pytest.raises(MetaD2AError):
        most_frequent([])


def test_oracle_random_and_anasod_on_a_hand_made_task(tmp_path):
    archs = list(unique_cells()[:8])
    accs = [60.0, 70.0, 65.0, 90.0, 50.0, 55.0, 80.0, 75.0]
    task = make_task(archs, accs, {a: 10.0 for a in archs})
    oracle = Oracle().run(task, 0)
    assert oracle.picks == [archs[3]] and oracle.cells_trained == 8 and oracle.search_s == 80.0
    run = ANASOD(budget=3).run(task, 0)
    queried = anasod_random_order(archs, 3, np.random.default_rng(0))
    assert run.picks == [archs[max(queried, key=lambda i: accs[i])]] and run.cells_trained == 3
    assert 30.0 <= run.search_s < 31.0  # three recorded trainings plus the (tiny) search itself
    with GroundTruth(tmp_path) as truth:
        row = evaluate_run(RandomChoice().run(task, 0), task, truth, seed=0)
        assert truth.trained == 0  # every pick is an evaluated cell
    base = random_baseline([task.data])[0]
    assert row["percentile"] == pytest.approx(base["pick_percentile"])
    assert row["regret"] == pytest.approx(base["top1_regret"])
    assert row["accuracy"] == pytest.approx(np.mean(accs)) and row["evaluated"] and row["pick"] is None


def test_naswot_refuses_an_unknown_pool():
    with pytest.raises(MetaD2AError, match="pool"):
        NASWOT(pool="everything")
