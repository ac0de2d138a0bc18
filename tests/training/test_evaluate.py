import dataclasses

import numpy as np
import pytest

from metad2a.database.task_data import TaskData
from metad2a.predictors.base import Scorer
from metad2a.training.evaluate import (compare, evaluate_checkpoints, evaluate_scorer, format_table, random_baseline,
                                       summarize)
from tests.training.tiny import tiny_tasks, train_tiny


class Oracle:
    name = "oracle"

    def __init__(self, truth):
        self.truth = truth

    def score(self, archs, dataset=None):
        return np.array([self.truth[a] for a in archs])


def task(accs, tid="t"):
    archs = [f"|none~0|+|none~0|none~1|+|none~0|none~1|{op}~2|" for op in
             ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")][: len(accs)]
    return TaskData(tid, "test", np.zeros((2, 1, 4), np.float32), archs, np.asarray(accs, np.float32))


def test_perfect_and_random_scorers():
    t = task([10.0, 30.0, 20.0, 40.0])
    oracle = Oracle(dict(zip(t.archs, t.accs)))
    assert isinstance(oracle, Scorer)
    row = evaluate_scorer(oracle, [t])[0]
    assert row["kendall"] == pytest.approx(1.0) and row["top1_regret"] == 0.0 and row["pick_percentile"] == 100.0
    rnd = random_baseline([t])[0]
    assert rnd["top1_regret"] == pytest.approx(np.mean([30, 10, 20, 0]))
    assert rnd["pick_percentile"] == pytest.approx(50.0)


def test_summary_skips_nan_and_table_prints():
    rows = evaluate_scorer(_Const(), [task([1.0, 2.0]), task([3.0, 3.0], "u")])
    s = summarize(rows)
    assert s["n_tasks"] == 2 and np.isnan(s["kendall"])  # constant scores: no correlation anywhere
    table = compare({"const": _Const()}, [task([1.0, 2.0])])
    assert set(table) == {"const", "random"} and "random" in format_table(table)


class _Const:
    name = "const"

    def score(self, archs, dataset=None):
        return np.zeros(len(archs))


def test_evaluate_checkpoints_has_meta_agnostic_random(tmp_path):
    train_tiny(tmp_path)
    held_out = [t for t in tiny_tasks() if t.split == "test"]
    table = evaluate_checkpoints(tmp_path, held_out)
    assert set(table) == {"meta", "meta_agnostic", "random"}
    assert all(table[k]["n_tasks"] == len(held_out) for k in table)


def test_report_held_out_adds_graf_and_generator_quality(tmp_path):
    from metad2a.training.evaluate import report_held_out

    tasks = tiny_tasks()
    train_tiny(tmp_path, tasks)
    printed = []
    out = report_held_out(tasks, tmp_path, "test", samples=50, echo=printed.append)
    assert set(out) == {"test"} and set(out["test"]["scorers"]) == {"meta", "meta_agnostic", "graf_rf", "random"}
    q = out["test"]["generator"]
    assert q["validity"] == 1.0 and 0 < q["uniqueness"] <= 1 and 0 <= q["novelty"] <= 1 and q["n"] == 50
    assert any("validity 1.000" in p for p in printed)

    # test tasks of two recipes: each recipe's tasks are reported on their own too
    first_test = next(t.task_id for t in tasks if t.split == "test")
    mixed = [dataclasses.replace(t, recipe="mini") if t.task_id == first_test else t for t in tasks]
    out = report_held_out(mixed, tmp_path, "test", samples=0, echo=printed.append)
    assert set(out) == {"test", "test/mini", "test/truth"}
    assert [out[g]["scorers"]["meta"]["n_tasks"] for g in ("test", "test/mini", "test/truth")] == [2, 1, 1]


def test_report_held_out_skips_meta_test_of_another_feature_dim(tmp_path, monkeypatch):
    """A synthetic smoke run beside real meta-test features reports them as skipped, not as a crash."""
    import metad2a.training.evaluate as ev
    from metad2a.training.evaluate import report_held_out

    tasks = tiny_tasks()
    train_tiny(tmp_path / "ck", tasks)
    db, feats = tmp_path / "meta-test.sqlite", tmp_path / "features.npz"
    db.touch()
    feats.touch()
    wide = TaskData("cifar10", "meta-test", np.zeros((2, 3, 1280), np.float32), tasks[0].archs, tasks[0].accs)
    monkeypatch.setattr(ev, "load_task_data", lambda *a, **k: [wide])
    printed = []
    out = report_held_out(tasks, tmp_path / "ck", "test", db, feats, samples=0, echo=printed.append)
    assert set(out) == {"test"}
    assert any(p.startswith("cifar10: skipped") and "1280" in p for p in printed)
