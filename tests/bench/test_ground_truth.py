"""Ground truth of picks: evaluated cells (up to canonical form) from the task, others trained once."""

import pytest

from metad2a.bench.ground_truth import GroundTruth
from metad2a.database.store import Store
from metad2a.errors import DataError
from metad2a.recipe import recipe_hash
from tests.bench.conftest import A, A_SAME, B, make_task


def test_evaluated_and_equivalent_cells_are_looked_up_without_training(tmp_path):
    task = make_task([A, B], [40.0, 70.0])
    with GroundTruth(tmp_path) as truth:
        assert truth.lookup(task, A) == (40.0, 0)
        assert truth.lookup(task, A_SAME) == (40.0, 0)  # same function, same ground truth
        assert truth.lookup(task, B) == (70.0, 1)
        assert truth.trained == 0 and not truth.store_path("meta-train", task.recipe).exists()


def test_other_cells_are_trained_with_every_seed_once_and_reused_after_a_restart(tmp_path):
    task = make_task([A], [40.0])
    with GroundTruth(tmp_path) as truth:
        acc, index = truth.lookup(task, B)
        assert index is None and 0.0 <= acc <= 100.0 and truth.trained == 2  # seeds (0, 1)
        assert truth.lookup(task, B) == (acc, None) and truth.trained == 2
    with GroundTruth(tmp_path) as again:  # a rerun: everything comes from the cache store
        assert again.lookup(task, B) == (acc, None)
        assert again.trained == 0 and again.reused == 2
    path = GroundTruth(tmp_path).store_path("meta-train", task.recipe)
    assert path.name == f"extra-meta-train-mini-{recipe_hash(task.recipe)}.sqlite"
    with Store(path) as store:
        recs = list(store.records(task_id=task.name))
    assert sorted(r["seed"] for r in recs) == [0, 1] and {r["arch"] for r in recs} == {B}
    assert {r["recipe_hash"] for r in recs} == {recipe_hash(task.recipe)}
    assert sum(r["target"] for r in recs) / 2 == acc


def test_a_table_answers_every_pick_by_its_own_row_or_one_of_the_same_function(tmp_path):
    from metad2a.bench.tasks import TruthTable
    from tests.bench.conftest import make_table_task

    table = TruthTable("t", [A_SAME, B], [40.0, 70.0])  # A itself is not in it; A_SAME computes the same
    task = make_table_task(table)
    assert task.archs == [A_SAME, B] or sorted(task.archs) == sorted([A_SAME, B])
    with GroundTruth(tmp_path) as truth:
        assert truth.lookup(task, B) == (70.0, 1)
        assert truth.lookup(task, A) == (40.0, 0)  # through its canonical form
        assert truth.trained == 0
    assert not list(tmp_path.iterdir())


def test_a_pick_outside_a_partial_table_has_no_truth(tmp_path):
    """Never trained and never given a stand-in: nan, and nan metrics, so it counts in no ranking."""
    import math

    from metad2a.bench.methods import MethodRun
    from metad2a.bench.runner import evaluate_run
    from metad2a.bench.tasks import TruthTable
    from tests.bench.conftest import make_table_task

    task = make_table_task(TruthTable("t", [A_SAME], [40.0], complete=False))
    with GroundTruth(tmp_path) as truth:
        assert truth.lookup(task, A) == (40.0, 0)
        acc, index = truth.lookup(task, B)
        assert math.isnan(acc) and index is None and truth.trained == 0
        row = evaluate_run(MethodRun([B], 0.1, 0, [1.0], 1), task, truth, seed=0)
    assert math.isnan(row["accuracy"]) and math.isnan(row["percentile"]) and math.isnan(row["regret"])
    assert not row["evaluated"]
    complete = make_table_task(TruthTable("t", [A_SAME], [40.0]))
    with GroundTruth(tmp_path) as truth, pytest.raises(DataError, match="no row"):
        truth.lookup(complete, B)  # a complete table missing a cell is a broken table, not a gap


def test_the_report_shows_picks_outside_a_partial_table_as_without_truth(tmp_path):
    from metad2a.bench.methods import MethodRun, Oracle
    from metad2a.bench.report import rank_table, to_markdown
    from metad2a.bench.runner import run_benchmark
    from metad2a.bench.tasks import TruthTable
    from tests.bench.conftest import make_table_task

    class Outside:  # always picks B, which the table lacks; scores its one cell
        stochastic = False

        def run(self, task, seed):
            return MethodRun([B], 0.01, 0, [1.0], 1)

    task = make_table_task(TruthTable("t", [A_SAME], [40.0], complete=False))
    with GroundTruth(tmp_path) as truth:
        result = run_benchmark([task], {"oracle": Oracle(), "outside": Outside()}, truth, seeds=[0], echo=None)
    md = to_markdown(result, {})
    assert "for its 1 cells only" in md and "| outside | — | — | — |" in md
    assert "outside on syn-table: 1 of 1 picks are not among the table's 1 cells" in md
    ranks = rank_table(result)  # a partial table is not ranked: most picks have no truth there
    assert ranks["datasets"] == [] and ranks["methods"] == {}


def test_the_store_of_trained_picks_is_per_role_and_recipe(tmp_path):
    from tests.bench.conftest import RECIPE

    truth = GroundTruth(tmp_path)
    other = RECIPE.with_(name="truth", epochs=2)
    paths = {truth.store_path(r, x) for r in ("meta-train", "meta-test") for x in (RECIPE, other)}
    assert len(paths) == 4  # database v1 and v2 meta-test tasks share names, not specs: never one file
