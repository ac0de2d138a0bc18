"""Shared pieces for generate.py tests: tiny trained checkpoints, tiny image folders, composed configs.

The checkpoints come from one epoch of meta-training on synthetic tasks with 1280-d features
(EfficientNet-Lite0's size), so the real pipeline runs end to end in seconds; their rankings
mean nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Tiny models: one intra-op thread is faster, and pytest -n 2 already uses both cores."""
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def meta_data(tmp_path_factory) -> Path:
    """A folder holding checkpoints/{generator,predictor,predictor_agnostic}.pt (tiny, 1 epoch)."""
    from metad2a.models import ModelConfig
    from metad2a.training.config import TrainerConfig
    from metad2a.training.meta_train import meta_train
    from metad2a.training.synthetic import make_synthetic_tasks

    root = tmp_path_factory.mktemp("meta_data")
    tasks = make_synthetic_tasks(num_tasks=8, feat_dim=1280, num_classes=(2, 4), samples_per_class=3,
                                 cells_per_task=6, seed=0)
    model = ModelConfig(feat_dim=1280, hidden_dim=16, latent_dim=8, heads=2, num_inducing=4, gnn_layers=1)
    trainer = TrainerConfig(epochs=1, generator_epochs=1, batch_tasks=4, unlabelled_cells=16, samples_per_class=3,
                            resume=False)
    meta_train(tasks, model, trainer, root / "checkpoints")
    _tiny_record_store(root / "meta-train.sqlite")
    return root


def _tiny_record_store(path: Path) -> None:
    """meta-train.sqlite with 3 synthetic tasks x 8 cells (what predictor=graf fits on)."""
    from metad2a.database.store import Store
    from metad2a.database.tasks import make_meta_train_tasks
    from metad2a.recipe import MINI, recipe_hash
    from metad2a.space import all_archs

    rng = np.random.default_rng(0)
    with Store(path) as s:
        s.add_recipe(MINI)
        tasks = make_meta_train_tasks(3, k=3, source="synthetic", fractions=(0.4, 0.3, 0.3))
        s.add_tasks(tasks)
        for t in tasks:
            for a in all_archs()[::2000][:8]:
                acc = float(rng.uniform(20, 60))
                s.add_record(t.task_id, {"arch": a, "seed": 0, "recipe_hash": recipe_hash(MINI), "train_loss": [1.0],
                                         "test_acc": [acc], "test_loss": [1.0], "final_acc": acc, "target": acc,
                                         "params": 1, "flops": 1, "wall_s": 1.0, "cpu_s": 1.0, "device": "cpu"})


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path, meta_data):
    """Caches (features, the example folder) go to a temp dir; checkpoints come from ``meta_data``."""
    monkeypatch.setenv("METAD2A_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("METAD2A_META_DATA", str(meta_data))


def make_folder(root: Path, classes: int = 3, per_class: int = 6, size: int = 16, ext: str = "png") -> Path:
    """``root/c<i>/<j>.<ext>``: per-class colour plus seeded noise, so classes differ and images are distinct."""
    rng = np.random.default_rng(0)
    for c in range(classes):
        base = np.array([60 + 60 * c % 256, 200 - 50 * c % 256, 40 * c % 256], dtype=np.int16)
        d = root / f"c{c}"
        d.mkdir(parents=True, exist_ok=True)
        for j in range(per_class):
            img = np.clip(base + rng.integers(-30, 30, size=(size, size, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(d / f"{j}.{ext}")
    return root


def gen_config(tmp_path: Path, *overrides: str) -> DictConfig:
    """generate.yaml composed with ``overrides``; output, model file and the progress bars set for tests."""
    base = [f"output={tmp_path / 'out' / 'generate.json'}", "progress=false"]
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        return compose("generate", overrides=base + list(overrides))
