"""Checkpoints: atomic saves, ``weights_only=True`` loads, provenance in every file.

Every file is a plain dict of tensors and Python scalars/containers (what ``weights_only``
accepts), with these keys:

    format, format_version   "metad2a-checkpoint", FORMAT_VERSION
    kind                     "generator" | "predictor" | "train_state"
    model_config             ModelConfig as a dict (+ "agnostic" for predictors)
    config                   the full resolved run config
    data_fingerprint         sha256 over the meta-training tasks (``training.checkpointing.data_fingerprint``)
    code_version             {"metad2a": __version__, "git_sha": str | None}
    state_dict / states      weights (a ``train_state`` also holds optimizers, epoch, RNG)
    epoch, metrics
    cell_table               predictors only: (15625, hidden_dim) ``encode_cells`` of every cell,
                             computed from these weights (``models/cell_table.py``)

Exported models (``generator.pt``, ``predictor.pt``, ``predictor_agnostic.pt``) are the best
epochs by validation; ``last.pt`` is the train state that ``train.py`` resumes from.
"""

from __future__ import annotations

import io
import os
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch

import metad2a
from metad2a.atomic import atomic_write
from metad2a.errors import CheckpointError
from metad2a.meta_data import meta_data_dir
from metad2a.models.config import ModelConfig
from metad2a.models.graph_vae import GraphVAE
from metad2a.models.predictor import MetaPredictor
from metad2a.space import NUM_CELLS

FORMAT = "metad2a-checkpoint"
FORMAT_VERSION = 1
GENERATOR_FILE, PREDICTOR_FILE = "generator.pt", "predictor.pt"
AGNOSTIC_FILE, LAST_FILE = "predictor_agnostic.pt", "last.pt"
REBUILD = "rebuild it with `python train.py` (or point METAD2A_META_DATA at a folder holding checkpoints/)"


def default_checkpoint_dir() -> Path:
    """``<meta_data>/checkpoints``: ``$METAD2A_META_DATA``, else the shipped ``meta_data/`` (metad2a.meta_data)."""
    return meta_data_dir() / "checkpoints"


@lru_cache(maxsize=1)
def code_version() -> dict[str, str | None]:
    """The package version and, when the package sits in a git checkout, the commit sha."""
    sha = None
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(metad2a.__file__).parent,
                             capture_output=True, text=True, timeout=5)
        if out.returncode == 0 and out.stdout.strip():
            sha = out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return {"metad2a": metad2a.__version__, "git_sha": sha}


def make_checkpoint(kind: str, *, model_config: dict, config: dict, data_fingerprint: str, **payload: Any) -> dict:
    """A checkpoint dict with the provenance keys filled in."""
    return {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind, "model_config": model_config,
            "config": config, "data_fingerprint": data_fingerprint, "code_version": code_version(), **payload}


def save_checkpoint(path: str | os.PathLike, ckpt: dict) -> Path:
    """Write atomically: a crash leaves the previous file or the new one, never a torn one."""
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    path = atomic_write(path, lambda f: f.write(buf.getvalue()))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)  # the temp file is created 0600; a checkpoint is meant to be shared
    return path


def load_checkpoint(path: str | os.PathLike, kind: str | None = None) -> dict:
    """Load with ``weights_only=True``; CheckpointError (one line, with the fix) if missing or foreign."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}: {REBUILD}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling errors come in many types; all mean "not ours"
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path} is not a readable metad2a checkpoint ({first}): {REBUILD}") from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a metad2a checkpoint: {REBUILD}")
    if ckpt.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path} has checkpoint format v{ckpt.get('format_version')} but this code reads "
                              f"v{FORMAT_VERSION}: {REBUILD}")
    if kind is not None and ckpt.get("kind") != kind:
        raise CheckpointError(f"{path} holds a {ckpt.get('kind')!r} checkpoint, expected {kind!r}: pass the "
                              f"{ {'generator': GENERATOR_FILE, 'predictor': PREDICTOR_FILE}.get(kind, kind) } file")
    return ckpt


def _load_state(module: torch.nn.Module, state: dict, path: Path) -> None:
    try:
        module.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise CheckpointError(f"{path} does not match this code's model ({first}): {REBUILD}") from e


def _without(state: dict, prefixes: tuple[str, ...]) -> dict:
    return {k: v for k, v in state.items() if not k.startswith(prefixes)}


def load_generator(path: str | os.PathLike, inference: bool = False) -> tuple[GraphVAE, dict]:
    """The graph VAE from a ``generator`` checkpoint (eval mode) and the checkpoint dict.

    inference=True: the dataset-to-cell path only (no graph encoder, no PyG import), for sampling.
    """
    ckpt = load_checkpoint(path, "generator")
    model = GraphVAE(ModelConfig.from_dict(ckpt["model_config"]), graph_encoder=not inference)
    state = _without(ckpt["state_dict"], GraphVAE.GRAPH_ENCODER_KEYS) if inference else ckpt["state_dict"]
    _load_state(model, state, Path(path))
    return model.eval(), ckpt


def load_predictor(path: str | os.PathLike, inference: bool = False) -> tuple[MetaPredictor, dict]:
    """The meta-predictor (or its dataset-agnostic twin) from a ``predictor`` checkpoint, eval mode.

    inference=True and a file with a ``cell_table``: cells are looked up in it instead of encoded
    by the GNN (same scores, no PyG import); without a table the GNN is built as usual.
    """
    ckpt = load_checkpoint(path, "predictor")
    mc = ckpt["model_config"]
    table = ckpt.get("cell_table") if inference else None
    if table is not None and (not isinstance(table, torch.Tensor) or tuple(table.shape) != (NUM_CELLS, mc.get("hidden_dim"))):
        raise CheckpointError(f"{path} has a malformed cell table (shape {tuple(getattr(table, 'shape', ()))}): "
                              f"rebuild it with `python -m metad2a.models add-cell-table {path}`")
    model = MetaPredictor(ModelConfig.from_dict(mc), agnostic=bool(mc.get("agnostic")), cell_table=table)
    state = ckpt["state_dict"]
    if table is not None:
        state = _without(state, MetaPredictor.CELL_ENCODER_KEYS) | {"cell_table.table": table}
    _load_state(model, state, Path(path))
    return model.eval(), ckpt


def add_cell_table(path: str | os.PathLike) -> torch.Tensor:
    """Compute a predictor checkpoint's cell table from its own weights and store it in the file (atomically)."""
    model, ckpt = load_predictor(path)
    ckpt["cell_table"] = model.tabulate_cells()
    save_checkpoint(path, ckpt)
    return ckpt["cell_table"]
