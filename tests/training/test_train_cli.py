"""``python train.py`` end to end on tiny synthetic data: logger=none and W&B offline."""

import os
import subprocess
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[2]
TINY = ["data=synthetic", "trainer=smoke", "data.num_tasks=10", "data.cells_per_task=8", "model.feat_dim=8",
        "model.hidden_dim=16", "model.latent_dim=8", "model.heads=2", "model.num_inducing=4", "trainer.batch_tasks=4"]


def train(tmp_path: Path, *overrides: str, env: dict | None = None, base=TINY) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "train.py", *base, f"checkpoint_dir={tmp_path / 'ck'}", f"hydra.run.dir={tmp_path / 'run'}",
           *overrides]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})})


def test_one_epoch_without_logger(tmp_path):
    out = train(tmp_path, "logger=none")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "test tasks:" in out.stdout and "meta_agnostic" in out.stdout
    for f in ("generator.pt", "predictor.pt", "predictor_agnostic.pt", "last.pt"):
        ck = torch.load(tmp_path / "ck" / f, weights_only=True)
        assert ck["config"]["data"]["_target_"].endswith("make_synthetic_tasks")
    assert not (tmp_path / "run" / "wandb").exists()


def test_one_epoch_with_wandb_offline(tmp_path):
    wandb_dir = tmp_path / "wandb_dir"
    env = {"WANDB_DIR": str(wandb_dir), "WANDB_MODE": "offline", "WANDB_SILENT": "true"}
    out = train(tmp_path, "logger=wandb", env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    runs = list(wandb_dir.rglob("offline-run-*"))
    assert runs, f"no offline run under {wandb_dir}"
    assert list(runs[0].rglob("*.wandb"))


def test_bad_data_is_one_line_without_traceback(tmp_path):
    out = train(tmp_path, "logger=none", "data=meta_data", f"meta_data_dir={tmp_path / 'missing'}", base=[])
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    err = out.stderr.strip().splitlines()[-1]
    assert err.startswith("error:") and "data=synthetic" in err
