"""What one meta-training run writes and reads back: best-epoch exports, ``last.pt``, the data fingerprint.

The file format (provenance keys, atomic saves, ``weights_only`` loads) is ``models.checkpoint``'s;
this module decides what goes in a run's files and refuses to resume a run on other data or
another model config.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from metad2a.database.task_data import TaskData
from metad2a.errors import CheckpointError
from metad2a.models.checkpoint import (AGNOSTIC_FILE, GENERATOR_FILE, LAST_FILE, PREDICTOR_FILE, load_checkpoint,
                                       make_checkpoint, save_checkpoint)

EXPORT_FILES = {"generator": GENERATOR_FILE, "predictor": PREDICTOR_FILE, "agnostic": AGNOSTIC_FILE}


def data_fingerprint(tasks: Sequence[TaskData]) -> str:
    """sha256 over every task's id, split, features, archs and accuracies, in task-id order."""
    h = hashlib.sha256()
    for t in sorted(tasks, key=lambda t: t.task_id):
        h.update(f"{t.task_id}|{t.split}|{t.features.shape}|".encode())
        h.update(np.ascontiguousarray(t.features, dtype=np.float32).tobytes())
        h.update("\n".join(t.archs).encode())
        h.update(np.asarray(t.accs, dtype=np.float64).round(6).tobytes())
    return h.hexdigest()


@dataclass
class RunFiles:
    """The checkpoint folder of one run and the provenance every file in it carries."""

    out_dir: Path
    model_config: dict  # ModelConfig.to_dict()
    config: dict  # the resolved run config
    fingerprint: str  # data_fingerprint of the run's tasks

    @property
    def last_path(self) -> Path:
        return self.out_dir / LAST_FILE

    def export(self, key: str, model: torch.nn.Module, epoch: int, metrics: dict) -> Path:
        """Write ``model`` ("generator", "predictor" or "agnostic") as that key's export file.

        The default predictor also carries its cell table (``models/cell_table.py``), so that
        generate.py scores without the GNN; the agnostic twin, a baseline, keeps only its weights.
        """
        kind = "generator" if key == "generator" else "predictor"
        mc = self.model_config | ({"agnostic": key == "agnostic"} if kind == "predictor" else {})
        extra = {"cell_table": model.tabulate_cells()} if key == "predictor" else {}
        return save_checkpoint(self.out_dir / EXPORT_FILES[key], make_checkpoint(
            kind, model_config=mc, config=self.config, data_fingerprint=self.fingerprint,
            state_dict=model.state_dict(), epoch=epoch, metrics=metrics, **extra))

    def save_last(self, models: dict[str, torch.nn.Module], opts: dict[str, torch.optim.Optimizer],
                  gen: torch.Generator, epoch: int, best: dict[str, float], history: list[dict]) -> Path:
        """Everything a rerun needs to continue after ``epoch``: weights, optimizers, RNG, best and history."""
        return save_checkpoint(self.last_path, make_checkpoint(
            "train_state", model_config=self.model_config, config=self.config, data_fingerprint=self.fingerprint,
            states={k: m.state_dict() for k, m in models.items()},
            optimizers={k: o.state_dict() for k, o in opts.items()},
            rng=gen.get_state(), epoch=epoch, best=best, history=history))

    def resume(self, models: dict[str, torch.nn.Module], opts: dict[str, torch.optim.Optimizer],
               gen: torch.Generator) -> tuple[int, dict[str, float], list[dict]] | None:
        """Load ``last.pt`` into models, optimizers and ``gen``; (epoch, best, history), or None without one."""
        if not self.last_path.exists():
            return None
        state = load_checkpoint(self.last_path, "train_state")
        if state["data_fingerprint"] != self.fingerprint:
            raise CheckpointError(f"{self.last_path} was trained on different data: set trainer.resume=false to "
                                  "start over, or checkpoint_dir=<new folder>")
        if state["model_config"] != self.model_config or set(state["states"]) != set(models):
            raise CheckpointError(f"{self.last_path} was trained with a different model config: set "
                                  "trainer.resume=false to start over, or checkpoint_dir=<new folder>")
        for k, m in models.items():
            m.load_state_dict(state["states"][k])
            opts[k].load_state_dict(state["optimizers"][k])
        gen.set_state(state["rng"])
        return int(state["epoch"]), dict(state["best"]), list(state["history"])
