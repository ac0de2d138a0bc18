import numpy as np
import pytest

from metad2a.errors import DataError
from metad2a.training.meta_train import meta_train
from metad2a.training.synthetic import SyntheticWorld, cell_one_hot, make_synthetic_tasks
from tests.training.tiny import tiny_model_config, tiny_tasks, tiny_trainer_config


def test_synthetic_tasks_follow_the_contract():
    tasks = make_synthetic_tasks(num_tasks=10, feat_dim=8, num_classes=(2, 5), samples_per_class=3, cells_per_task=7)
    assert [t.split for t in tasks].count("train") == 6 and {t.split for t in tasks} == {"train", "valid", "test"}
    for t in tasks:
        assert t.features.dtype == np.float32 and t.features.shape[1:] == (3, 8) and 2 <= t.num_classes <= 5
        assert len(t.archs) == len(t.accs) == 7
    again = make_synthetic_tasks(num_tasks=10, feat_dim=8, num_classes=(2, 5), samples_per_class=3, cells_per_task=7)
    assert all(np.array_equal(a.features, b.features) and a.archs == b.archs for a, b in zip(tasks, again))


def test_synthetic_best_cell_depends_on_the_dataset():
    world = SyntheticWorld(feat_dim=8, latent_dim=4, seed=0)
    _, U = world.make_tasks(num_tasks=20)
    cells = [f"|{a}~0|+|{b}~0|{c}~1|+|{d}~0|{e}~1|{f}~2|" for a, b, c, d, e, f in
             [("nor_conv_3x3",) * 6, ("avg_pool_3x3",) * 6, ("skip_connect",) * 6, ("nor_conv_1x1",) * 6]]
    best = {int(np.argmax(world.accuracy(u, cells))) for u in U}
    assert len(best) > 1
    assert cell_one_hot(cells).sum(1).tolist() == [6.0] * 4


def test_feature_dim_mismatch_is_one_actionable_line(tmp_path):
    with pytest.raises(DataError, match="set model.feat_dim=8") as e:
        meta_train(tiny_tasks(), tiny_model_config(feat_dim=16), tiny_trainer_config(), tmp_path)
    assert "\n" not in str(e.value)


def test_needs_train_tasks(tmp_path):
    tasks = [t for t in tiny_tasks() if t.split != "train"]
    with pytest.raises(DataError, match="split='train'"):
        meta_train(tasks, tiny_model_config(), tiny_trainer_config(), tmp_path)


def test_time_limit_stops_resumably(tmp_path):
    r = meta_train(tiny_tasks(), tiny_model_config(), tiny_trainer_config(epochs=5, time_limit_min=1e-6), tmp_path)
    assert r.epochs_run == 1 and (tmp_path / "last.pt").exists()
