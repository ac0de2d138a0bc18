"""Method building blocks and the simple methods, on hand-made tasks (no database)."""

from pathlib import Path

import numpy as np
import pytest

from metad2a.bench.ground_truth import GroundTruth
from metad2a.bench.methods import (
    ANASOD,
    NASWOT,
    Oracle,
    RandomChoice,
    TableLookup,
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


def small_table(n: int = 12, start: int = 0):
    """A TruthTable of ``n`` unique cells with accuracy = 50 + position."""
    from metad2a.bench.tasks import TruthTable

    cells = list(unique_cells()[start:start + n])
    return TruthTable("t", cells, 50.0 + np.arange(n, dtype=float))


def test_oracle_and_random_on_a_table_task_use_every_cell_of_the_table(tmp_path):
    from tests.bench.conftest import make_table_task

    table = small_table()
    task = make_table_task(table)
    oracle = Oracle().run(task, 0)
    assert oracle.picks == [table.archs[-1]] and oracle.cells_trained == 12 and oracle.search_s == 0.0
    with GroundTruth(tmp_path) as truth:
        row = evaluate_run(oracle, task, truth, seed=0)
        assert row == row | {"accuracy": 61.0, "percentile": 100.0, "regret": 0.0, "evaluated": True}
        rand = evaluate_run(RandomChoice().run(task, 0), task, truth, seed=0)
        assert truth.trained == 0 and not list(tmp_path.iterdir())  # a table is looked up, never trained
    assert rand["accuracy"] == pytest.approx(55.5) and rand["percentile"] == pytest.approx(50.0)


def test_the_table_lookup_picks_the_columns_best_and_scores_evaluated_cells_with_it(tmp_path):
    from tests.bench.conftest import make_table_task, write_fake_table, fake_table_accuracy

    cells = list(unique_cells()[:30])
    write_fake_table(tmp_path / "nb201" / "nb201_test_accuracy.csv", cells)
    in16 = {a: round(fake_table_accuracy(a)[1], 4) for a in cells}
    task = make_table_task(small_table(10, start=5))  # its truth is another table: the lookup must not read it
    run = TableLookup(data_root=tmp_path).run(task, 0)
    assert run.picks == [max(cells, key=in16.get)] and run.cells_trained == 0 and run.candidates == 30
    assert run.scores.tolist() == pytest.approx([in16[a] for a in task.archs])
    assert not TableLookup.stochastic


def test_a_task_with_its_own_checkpoints_is_scored_with_them(tiny_meta_data):
    """A held-out domain's task: the configured file does not even exist; the task's folder has one."""
    from metad2a.bench.methods import MetaPredictorSearch, checkpoint_for
    from metad2a.predictors.meta import MetaPredictorScorer

    task = make_task(list(unique_cells()[:6]), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    own = tiny_meta_data / "lodo" / "synthetic"
    assert checkpoint_for("/nowhere/predictor.pt", task) == Path("/nowhere/predictor.pt")
    task.checkpoint_dir = str(own)
    assert checkpoint_for("/nowhere/predictor.pt", task) == own / "predictor.pt"
    run = MetaPredictorSearch("/nowhere/predictor.pt").run(task, 0)
    expected = MetaPredictorScorer(own / "predictor.pt").score(task.archs, task.sample())
    assert np.allclose(run.scores, expected)
    default = MetaPredictorScorer(tiny_meta_data / "checkpoints" / "predictor.pt").score(task.archs, task.sample())
    assert not np.allclose(run.scores, default)  # two different models: the test can tell them apart


def test_naswot_scores_a_fixed_subset_of_many_evaluated_cells():
    method = NASWOT(pool="evaluated", max_cells=5)
    subset = method.evaluated_subset(50)
    assert len(subset) == 5 and list(subset) == sorted(set(subset))
    assert list(NASWOT(pool="evaluated", max_cells=5).evaluated_subset(50)) == list(subset)  # fixed: no seed
    assert list(method.evaluated_subset(4)) == [0, 1, 2, 3]
    assert list(NASWOT(pool="evaluated").evaluated_subset(7)) == list(range(7))


def test_graf_rf_fits_our_own_runs_without_the_nb201_table_or_the_held_out_domain(tmp_path):
    from metad2a.bench.methods import GRAF
    from metad2a.database.nb201_import import NB201_IN16
    from metad2a.database.store import Store
    from metad2a.database.tasks import TaskSpec
    from metad2a.recipe import recipe_hash
    from tests.bench.conftest import RECIPE

    cells = list(unique_cells()[:8])
    specs = [TaskSpec("own-a", "synthetic", ("a", "b"), 8, 4, 0, "train"),
             TaskSpec("own-b", "kannada", ("a", "b"), 8, 4, 0, "train"),
             TaskSpec("table", "tiny-imagenet", ("a", "b"), 8, 4, 0, "train"),
             TaskSpec("held", "kannada", ("a", "b"), 8, 4, 0, "test")]
    rows = []
    for spec, recipe, n in ((specs[0], RECIPE, 4), (specs[1], RECIPE, 5), (specs[2], NB201_IN16, 8),
                            (specs[3], RECIPE, 3)):
        for i, a in enumerate(cells[:n]):
            rows.append({"task_id": spec.task_id, "arch": a, "seed": 0, "recipe_hash": recipe_hash(recipe),
                         "final_acc": float(i), "target": float(i), "train_loss": [], "test_acc": [],
                         "test_loss": [], "params": None, "flops": None, "wall_s": None, "device": "cpu",
                         "host": "test", "created": 0.0})
    with Store(tmp_path / "db.sqlite") as store:
        store.add_tasks(specs)
        store.add_recipe(RECIPE)
        store.add_recipe(NB201_IN16)
        store.add_records(rows)
    graf = GRAF(db=tmp_path / "db.sqlite", exclude_recipes=["nb201-200ep"], n_estimators=5)
    assert sorted((src, len(a)) for src, a, _ in graf.store_data) == [("kannada", 5), ("synthetic", 4)]
    assert len(graf.training_data()[0]) == 9 and len(graf.training_data("kannada")[0]) == 4
    task = make_task(cells[:3], [1.0, 2.0, 3.0])
    task.held_out_source = "kannada"
    graf.run(task, 0)
    assert set(graf._forests) == {(0, "kannada")}  # fitted without the held-out domain's tasks
    assert GRAF(db=tmp_path / "db.sqlite", n_estimators=5).training_data()[0].__len__() == 17  # nothing excluded
