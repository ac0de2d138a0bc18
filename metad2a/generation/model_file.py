"""The ready-to-train model file generate.py writes for the best cell.

Load it with one line::

    from metad2a.generation.model_file import load_model_file; model = load_model_file("best_model.pt")
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from metad2a.atomic import atomic_write
from metad2a.errors import CheckpointError
from metad2a.space.network import NB201Network, build_model

FORMAT = "metad2a-nb201-model/1"


def save_model_file(path: str | os.PathLike, model: NB201Network, C: int, N: int, in_channels: int) -> Path:
    """Save ``{format, arch, num_classes, C, N, in_channels, state_dict}`` atomically."""
    payload = {"format": FORMAT, "arch": model.arch, "num_classes": model.num_classes, "C": C, "N": N,
               "in_channels": in_channels, "state_dict": model.state_dict()}
    return atomic_write(path, lambda f: torch.save(payload, f))


def load_model_file(path: str | os.PathLike, map_location: str = "cpu") -> NB201Network:
    """Rebuild the network from a model file (safe load: tensors and plain types only)."""
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"model file {path} not found: run generate.py to write one") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a metad2a model file (expected format {FORMAT})")
    model = build_model(payload["arch"], payload["num_classes"], C=payload["C"], N=payload["N"],
                        in_channels=payload["in_channels"])
    model.load_state_dict(payload["state_dict"])
    return model
