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
