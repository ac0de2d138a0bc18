"""A tiny synthetic meta_data/ folder and shared-data folder (seconds to build).

``tiny_meta_data`` mirrors the shipped layout:

- ``meta-train.sqlite`` (database v2's place): four 3-class synthetic tasks at 8x8 (two
  train-split, two test-split), six cells each, trained with a 1-epoch C=4 N=1 recipe; the test
  tasks with seeds 0 and 1. GRAF-RF fits on its train split; as a held-out "domain",
  ``synthetic`` takes all four.
- ``v1/meta-train.sqlite``: two more test-split synthetic tasks (other ids): the
  within-distribution row.
- ``features_*.npz``: 8 cheap pixel statistics per image (the tiny checkpoints' feat_dim),
  CIFAR-100's from ``fake_shared``.
- ``checkpoints/``: the tiny MetaD2A run of tests/training/tiny.py; ``lodo/synthetic/``: a
  second one (another seed), as a model retrained without the held-out domain.

``fake_shared`` is a shared-data folder with a fake NB201 table (one row per canonical form,
6,466 rows: any pick has a truth through its canonical form) and a fake CIFAR-100 test set
(100 classes x 10 images at 8x8).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from metad2a.bench.tasks import BenchTask, TruthTable, table_spec
from metad2a.collect import collect, plan_cells, plan_jobs, plan_tasks
from metad2a.database.features_store import build_feature_file
from metad2a.database.task_data import TaskData
from metad2a.database.tasks import TaskSpec
from metad2a.recipe import MINI
from metad2a.space import unique_cells
from tests.training.tiny import FEAT_DIM, tiny_tasks, train_tiny

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


def fake_table_accuracy(arch: str) -> tuple[float, float]:
    """(cifar100_test, imagenet16_120_test) of a fake NB201 row: conv counts, ranked differently by the two."""
    ops = arch.count
    c100 = 40.0 + 4.0 * ops("nor_conv_3x3") + 2.0 * ops("nor_conv_1x1") - 3.0 * ops("none")
    in16 = 20.0 + 1.0 * ops("nor_conv_3x3") + 3.0 * ops("nor_conv_1x1") + 2.0 * ops("skip_connect")
    jitter = (sum(map(ord, arch)) % 97) / 1000.0  # distinct values, no ties
    return c100 + jitter, in16 + jitter


def write_fake_table(path: Path, archs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["index,arch,cifar100_test,imagenet16_120_test"]
    lines += [f"{i},{a},{c:.4f},{n:.4f}" for i, a in enumerate(archs) for c, n in [fake_table_accuracy(a)]]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def fake_shared(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("shared")
    write_fake_table(root / "nb201" / "nb201_test_accuracy.csv", unique_cells())
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(100), 10)
    x = (rng.integers(0, 60, (len(y), 8, 8, 3)) + 2 * y[:, None, None, None]).astype(np.uint8)
    (root / "images" / "cifar100").mkdir(parents=True)
    np.savez(root / "images" / "cifar100" / "test.npz", x=x, y=y, class_names=np.array([f"c{i:03d}" for i in range(100)]))
    return root


@pytest.fixture(scope="session")
def tiny_meta_data(tmp_path_factory, fake_shared, _one_torch_thread) -> Path:
    root = tmp_path_factory.mktemp("meta_data")
    tasks = plan_tasks("meta-train", RECIPE, num=4, k=3, source="synthetic", fractions=(0.5, 0.0, 0.5))
    cells = {t.task_id: plan_cells(t.task_id, CELLS_PER_TASK) for t in tasks}
    seeds = {t.task_id: [0, 1] if t.split == "test" else [0] for t in tasks}
    collect(root / "meta-train.sqlite", plan_jobs(tasks, cells, seeds), RECIPE, progress=False)
    build_feature_file(root / "features_meta-train.npz", tasks, pixel_stats, n_per_class=3, image_size=8)
    v1 = [t for t in plan_tasks("meta-train", RECIPE, num=4, k=3, seed=1, source="synthetic",
                                fractions=(0.5, 0.0, 0.5)) if t.split == "test"]
    collect(root / "v1" / "meta-train.sqlite", plan_jobs(v1, {t.task_id: plan_cells(t.task_id, CELLS_PER_TASK)
                                                              for t in v1}, [0, 1]), RECIPE, progress=False)
    build_feature_file(root / "v1" / "features_meta-train.npz", v1, pixel_stats, n_per_class=3, image_size=8)
    cifar100 = table_spec("cifar100", fake_shared)
    build_feature_file(root / "features_meta-test.npz", [cifar100], pixel_stats, n_per_class=3, image_size=8,
                       root=fake_shared, meta_test_ok=True)
    train_tiny(root / "checkpoints")
    train_tiny(root / "lodo" / "synthetic", tasks=tiny_tasks(seed=1))
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


def make_table_task(table: TruthTable) -> BenchTask:
    """A 3-class synthetic task whose truth is ``table`` (evaluated cells: one per canonical form in it)."""
    spec = TaskSpec("syn-table", "synthetic", ("c00", "c01", "c02"), 8, 4, 0, "test")
    archs = table.evaluated_cells()
    accs = np.array([table.accs[table.index(a)] for a in archs], np.float32)
    data = TaskData("syn-table", "test", np.zeros((3, 2, 8), np.float32), archs, accs, recipe=table.name)
    return BenchTask(data, spec, "meta-test", RECIPE, (), table=table)


def full_overrides(meta_data: Path, shared: Path) -> list[str]:
    """The tiny config with every kind of dataset: the fake CIFAR-100 table, a held-out domain, the v1 row."""
    return [f"meta_data_dir={meta_data}", f"data_root={shared}", "datasets.table=[cifar100]",
            "datasets.lodo=[synthetic]", f"datasets.within_db={meta_data}/v1/meta-train.sqlite",
            f"datasets.within_features={meta_data}/v1/features_meta-train.npz"]


def compose_bench(*overrides: str, config: str = "tiny"):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config, overrides=list(overrides))
