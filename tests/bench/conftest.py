"""A tiny synthetic meta_data/ folder (seconds to build): record store, features, checkpoints.

Four 3-class synthetic tasks at 8x8 (two train-split, two test-split), six cells each, trained
with a 1-epoch C=4 N=1 recipe; the test tasks with seeds 0 and 1. Features are 8 cheap pixel
statistics per image (the tiny checkpoints' feat_dim). The checkpoints are the tiny MetaD2A
run of tests/training/tiny.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from metad2a.bench.tasks import BenchTask
from metad2a.collect import collect, plan_cells, plan_jobs, plan_tasks
from metad2a.database.features_store import build_feature_file
from metad2a.database.task_data import TaskData
from metad2a.database.tasks import TaskSpec
from metad2a.recipe import MINI
from tests.training.tiny import FEAT_DIM, train_tiny

CONF = Path(__file__).resolve().parents[2] / "conf" / "bench"
RECIPE = MINI.with_(C=4, N=1, resolution=8, epochs=1, target_last_k=1, batch_size=16, train_per_class=8,
                    test_per_class=4)
CELLS_PER_TASK = 6


def pixel_stats(x: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, 3) -> (N, 8): per-channel mean and std, top-half and bottom-half brightness."""
    f = x.astype(np.float32) / 255.0
    h = f.shape[1] // 2
    out = np.concatenate([f.mean((1, 2)), f.std((1, 2)), f[:, :h].mean((1, 2, 3))[:, None],
                          f[:, h:].mean((1, 2, 3))[:, None]], axis=1)
    assert out.shape[1] == FEAT_DIM
    return out


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Tiny models: one intra-op thread is faster, and pytest -n 2 already uses both cores."""
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_meta_data(tmp_path_factory, _one_torch_thread) -> Path:
    root = tmp_path_factory.mktemp("meta_data")
    tasks = plan_tasks("meta-train", RECIPE, num=4, k=3, source="synthetic", fractions=(0.5, 0.0, 0.5))
    cells = {t.task_id: plan_cells(t.task_id, CELLS_PER_TASK) for t in tasks}
    seeds = {t.task_id: [0, 1] if t.split == "test" else [0] for t in tasks}
    collect(root / "meta-train.sqlite", plan_jobs(tasks, cells, seeds), RECIPE, progress=False)
    build_feature_file(root / "features_meta-train.npz", tasks, pixel_stats, n_per_class=3, image_size=8)
    train_tiny(root / "checkpoints")
    return root


# Node 1 feeds nothing, so A and A_SAME compute the same function (same canonical form).
A = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
A_SAME = "|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"
B = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def make_task(archs, accs, seconds=None) -> BenchTask:
    """A 3-class synthetic test task with the given evaluated cells; its images are made in memory."""
    spec = TaskSpec("syn-hand", "synthetic", ("c00", "c01", "c02"), 8, 4, 0, "test")
    data = TaskData("syn-hand", "test", np.zeros((3, 2, 8), np.float32), list(archs), np.asarray(accs, np.float32))
    return BenchTask(data, spec, "meta-train", RECIPE, (0, 1), dict(seconds or {}))


def compose_bench(*overrides: str, config: str = "tiny"):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config, overrides=list(overrides))
