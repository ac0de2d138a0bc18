import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from metad2a.errors import DataError
from metad2a.recipe import FULL, MINI, Recipe, RecipeError, get_recipe, recipe_hash, train_cell

REPO = Path(__file__).resolve().parents[2]
CONV = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|"
TINY = MINI.with_(C=4, N=1, resolution=8, epochs=2, batch_size=16, target_last_k=2)


@pytest.fixture(autouse=True)
def one_thread():
    # Oversubscribed OpenMP threads crawl on a shared 2-core box; restore the setting after.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _data(n_per_class=12, classes=3, size=10, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), n_per_class)
    x = rng.integers(0, 60, (len(y), size, size, 3)) + (y * 70)[:, None, None, None]
    return x.astype(np.uint8), y


def test_hash_is_stable_across_processes_and_sensitive_to_fields():
    code = "from metad2a.recipe import MINI, recipe_hash; print(recipe_hash(MINI))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "123", "PATH": ""}).stdout.strip()
    assert other == recipe_hash(MINI) and len(other) == 12
    assert recipe_hash(MINI.with_(lr=0.2)) != recipe_hash(MINI)
    assert recipe_hash(Recipe.from_dict(MINI.to_dict())) == recipe_hash(MINI)


def test_full_is_nb201():
    assert (FULL.C, FULL.N, FULL.resolution, FULL.epochs, FULL.batch_size) == (16, 5, 32, 200, 256)
    assert (FULL.lr, FULL.momentum, FULL.nesterov, FULL.weight_decay, FULL.schedule) == (0.1, 0.9, True, 5e-4, "cosine")


@pytest.mark.parametrize("name", ["mini", "full"])
def test_hydra_recipe_configs_mirror_python(name):
    cfg = yaml.safe_load((REPO / "conf" / "recipe" / f"{name}.yaml").read_text())
    assert recipe_hash(Recipe.from_dict(cfg)) == recipe_hash(get_recipe(name))


def test_bad_recipes_are_refused():
    with pytest.raises(RecipeError, match="unknown recipe field"):
        Recipe.from_dict({**MINI.to_dict(), "lrr": 1})
    with pytest.raises(RecipeError, match="schedule"):
        MINI.with_(schedule="step")
    with pytest.raises(RecipeError, match="target_last_k"):
        MINI.with_(epochs=2, target_last_k=3)
    with pytest.raises(RecipeError):
        get_recipe("nope")


def test_train_cell_record_and_determinism():
    x, y = _data()
    threads = torch.get_num_threads()
    a = train_cell(CONV, x, y, x[:9], y[:9], 3, TINY, seed=1)
    b = train_cell(CONV, x, y, x[:9], y[:9], 3, TINY, seed=1)
    c = train_cell(CONV, x, y, x[:9], y[:9], 3, TINY, seed=2)
    assert torch.get_num_threads() == threads
    assert len(a["train_loss"]) == len(a["test_acc"]) == len(a["test_loss"]) == TINY.epochs
    assert a["train_loss"] == b["train_loss"] and a["test_acc"] == b["test_acc"]
    assert a["train_loss"] != c["train_loss"]
    assert a["target"] == pytest.approx(np.mean(a["test_acc"][-2:]))
    assert a["final_acc"] == a["test_acc"][-1]
    assert a["recipe_hash"] == recipe_hash(TINY) and a["device"] == "cpu"
    assert a["params"] > 0 and a["flops"] > 0 and a["wall_s"] > 0


def test_train_cell_learns_an_easy_task():
    x, y = _data(n_per_class=40, classes=2)
    r = train_cell(CONV, x, y, x, y, 2, TINY.with_(epochs=4, target_last_k=1, batch_size=20), seed=0)
    assert r["final_acc"] > 80


def test_train_cell_grayscale_and_bad_labels():
    x, y = _data()
    r = train_cell(CONV, x[..., 0], y, x[:6, ..., 0], y[:6], 3, TINY.with_(epochs=1, target_last_k=1))
    assert r["params"] > 0
    with pytest.raises(DataError, match="labels"):
        train_cell(CONV, x, y + 5, x, y, 3, TINY)


def test_fields_added_later_leave_older_hashes_alone():
    # The shipped v1 records are keyed by these hashes: new fields at their defaults must not move them.
    assert recipe_hash(MINI) == "9f73d0edc02c" and recipe_hash(FULL) == "b874e906753c"
    assert recipe_hash(MINI.with_(steps=100)) != recipe_hash(MINI)
    assert recipe_hash(MINI.with_(eval_points=3)) != recipe_hash(MINI)


def test_truth_recipe_is_registered_and_mirrored_by_its_yaml():
    from metad2a.recipe import TRUTH

    assert get_recipe("truth") is TRUTH and TRUTH.steps > 0
    conf = yaml.safe_load((REPO / "conf" / "recipe" / "truth.yaml").read_text())
    assert recipe_hash(Recipe.from_dict(conf)) == recipe_hash(TRUTH)


def test_fixed_steps_set_the_epochs_from_the_task_size():
    r = MINI.with_(steps=300, batch_size=30)
    assert r.epochs_for(300) == 30 and r.epochs_for(3000) == 3  # 10 and 100 batches per epoch
    assert r.epochs_for(300_000) == r.target_last_k  # never fewer epochs than the target averages
    assert MINI.epochs_for(123) == MINI.epochs  # epoch-based recipes ignore the task size
    capped = r.with_(max_epochs=20)
    assert capped.epochs_for(300) == 20 and capped.epochs_for(3000) == 3  # the cap binds only on small tasks


def test_eval_epochs_are_spread_and_always_include_the_target_epochs():
    r = MINI.with_(steps=100, eval_points=4, target_last_k=3)
    ev = r.eval_epochs(40)
    assert ev == sorted(set(ev)) and ev[-3:] == [38, 39, 40] and ev[0] == 10 and len(ev) == 6
    assert r.eval_epochs(5) == [1, 2, 3, 4, 5]  # short runs are scored every epoch
    assert MINI.eval_epochs(8) == list(range(1, 9))
    with pytest.raises(RecipeError, match="steps, eval_points and max_epochs"):
        MINI.with_(steps=-1)


def test_train_cell_with_fixed_steps_scores_only_the_listed_epochs():
    x, y = _data(n_per_class=8)  # 24 images, batch 8: 3 steps per epoch
    r = TINY.with_(steps=30, batch_size=8, eval_points=2, target_last_k=2)
    rec = train_cell(CONV, x, y, x, y, 3, r, seed=0)
    assert len(rec["train_loss"]) == 10
    assert rec["eval_epochs"] == r.eval_epochs(10) == [5, 9, 10]
    assert len(rec["test_acc"]) == len(rec["test_loss"]) == 3
    assert rec["target"] == pytest.approx(np.mean(rec["test_acc"][-2:]))
