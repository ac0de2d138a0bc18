"""Ground truth of picks: evaluated cells (up to canonical form) from the task, others trained once."""

from metad2a.bench.ground_truth import GroundTruth
from metad2a.database.store import Store
from metad2a.recipe import recipe_hash
from tests.bench.conftest import A, A_SAME, B, make_task


def test_evaluated_and_equivalent_cells_are_looked_up_without_training(tmp_path):
    task = make_task([A, B], [40.0, 70.0])
    with GroundTruth(tmp_path) as truth:
        assert truth.lookup(task, A) == (40.0, 0)
        assert truth.lookup(task, A_SAME) == (40.0, 0)  # same function, same ground truth
        assert truth.lookup(task, B) == (70.0, 1)
        assert truth.trained == 0 and not truth.store_path("meta-train").exists()


def test_other_cells_are_trained_with_every_seed_once_and_reused_after_a_restart(tmp_path):
    task = make_task([A], [40.0])
    with GroundTruth(tmp_path) as truth:
        acc, index = truth.lookup(task, B)
        assert index is None and 0.0 <= acc <= 100.0 and truth.trained == 2  # seeds (0, 1)
        assert truth.lookup(task, B) == (acc, None) and truth.trained == 2
    with GroundTruth(tmp_path) as again:  # a rerun: everything comes from the cache store
        assert again.lookup(task, B) == (acc, None)
        assert again.trained == 0 and again.reused == 2
    with Store(tmp_path / "extra-meta-train.sqlite") as store:
        recs = list(store.records(task_id=task.name))
    assert sorted(r["seed"] for r in recs) == [0, 1] and {r["arch"] for r in recs} == {B}
    assert {r["recipe_hash"] for r in recs} == {recipe_hash(task.recipe)}
    assert sum(r["target"] for r in recs) / 2 == acc
