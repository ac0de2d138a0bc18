"""GRAF-RF: the forest on GRAF features, its errors, and fitting itself on the project's database."""

import numpy as np
import pytest

from metad2a.errors import DataError
from metad2a.metrics import spearman
from metad2a.predictors.base import Scorer
from metad2a.predictors.graf import GRAFScorer, graf_matrix, pooled_zscores
from metad2a.space import all_archs, parse

CELL_A = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|"
CELL_B = "|skip_connect~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|none~0|none~1|skip_connect~2|"


def test_scorer_fit_score_round_trip_on_tiny_data():
    archs = all_archs()
    rng = np.random.default_rng(1)
    pick = [archs[i] for i in rng.choice(len(archs), 80, replace=False)]
    # A synthetic target GRAF can express: conv3 counts most, conv1 less, each "none" hurts.
    def target(a):
        ops = parse(a)
        return 2 * ops.count("nor_conv_3x3") + ops.count("nor_conv_1x1") - ops.count("none")
    train, test = pick[:50], pick[50:]
    scorer = GRAFScorer(n_estimators=30, seed=0).fit(train, [target(a) for a in train])
    s = scorer.score(test)
    assert isinstance(scorer, Scorer) and s.shape == (30,) and s.dtype == np.float64
    assert spearman(s, [target(a) for a in test]) > 0.8
    assert graf_matrix(test).shape == (30, 191)


def test_scorer_errors_are_clear():
    with pytest.raises(DataError, match="not fitted"):
        GRAFScorer().score([CELL_A])
    with pytest.raises(DataError, match="one accuracy each"):
        GRAFScorer().fit([CELL_A, CELL_B], [1.0])


def test_pooled_zscores_standardise_each_task():
    archs, y = pooled_zscores([(["x", "y", "z"], [50.0, 60.0, 70.0]), (["x", "w"], [90.0, 90.0])])
    assert archs == ["x", "y", "z", "x", "w"]
    assert y[:3] == pytest.approx([-1.2247449, 0.0, 1.2247449]) and y[3:].tolist() == [0.0, 0.0]


def test_fits_itself_on_the_project_database(tmp_path):
    from metad2a.database.store import Store
    from metad2a.database.tasks import make_meta_train_tasks
    from metad2a.recipe import MINI, recipe_hash
    from metad2a.space import all_archs

    tasks = make_meta_train_tasks(3, k=3, source="synthetic", fractions=(0.4, 0.3, 0.3))
    archs = all_archs()[::1500][:8]
    conv = [a.count("nor_conv_3x3") for a in archs]
    with Store(tmp_path / "mt.sqlite") as s:
        s.add_recipe(MINI)
        s.add_tasks(tasks)
        for t in tasks:
            for seed in (0, 1):
                for a, c in zip(archs, conv):  # accuracy grows with conv3x3 count, on every train task
                    acc = 40.0 + 5 * c + seed + (0.0 if t.split == "train" else -5 * c)
                    s.add_record(t.task_id, {"arch": a, "seed": seed, "recipe_hash": recipe_hash(MINI),
                                             "train_loss": [1.0], "test_acc": [acc], "test_loss": [1.0],
                                             "final_acc": acc, "target": acc, "params": 1, "flops": 1,
                                             "wall_s": 1.0, "cpu_s": 1.0, "device": "cpu"})
        train = s.seed_means("train")
        (tid, (got_archs, means)), = train.items()  # one train task, cells sorted, seeds averaged
        assert [t.split for t in tasks if t.task_id == tid] == ["train"] and got_archs == sorted(archs)
        assert means[0] == pytest.approx(40.5 + 5 * sorted(archs)[0].count("nor_conv_3x3"))
    scorer = GRAFScorer(n_estimators=20, fit_db=tmp_path / "mt.sqlite")
    scores = scorer.score(archs)  # fits on the train split only, whose ranking follows conv3x3
    assert np.corrcoef(scores, conv)[0, 1] > 0.9
    with pytest.raises(DataError, match="graf_in16"):
        GRAFScorer(fit_db=tmp_path / "missing.sqlite").score(archs)


def test_the_cifar100_column_is_never_fitted_on():
    # NB201's CIFAR-100 column is meta-test truth (the benchmark scores picks with it).
    with pytest.raises(DataError, match="meta-test truth"):
        GRAFScorer(n_estimators=2).fit_nb201("cifar100_test", 10)


def test_fitting_on_the_database_leaves_the_imported_table_out(tmp_path, shared_data):
    from metad2a.database.nb201_import import import_nb201_table
    from metad2a.database.store import Store
    from metad2a.space import all_archs

    archs = all_archs()[:40]
    table = {a: {"imagenet16_120_test": float(i)} for i, a in enumerate(archs)}
    with Store(tmp_path / "mt.sqlite") as s:
        import_nb201_table(s, table=table)
    with pytest.raises(DataError, match="no records of train-split tasks"):
        GRAFScorer(n_estimators=2).fit_database(tmp_path / "mt.sqlite")
