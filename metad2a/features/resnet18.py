"""torchvision ResNet18 as a 512-d feature extractor (MetaD2A's choice), from the local torch hub cache only.

Tests and library code never download: when ``<torch hub dir>/checkpoints/resnet18-*.pth`` is
absent the user gets a one-line instruction to fetch it once.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from metad2a.errors import CheckpointError

FEATURE_DIM = 512
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
FETCH_HINT = ("python -c \"import torchvision; torchvision.models.resnet18(weights='IMAGENET1K_V1')\" "
              "(needs network once)")


def resnet18_weights_path() -> Path:
    """The cached ImageNet ResNet18 checkpoint, or CheckpointError saying how to fetch it."""
    ckpt_dir = Path(torch.hub.get_dir()) / "checkpoints"
    found = sorted(ckpt_dir.glob("resnet18-*.pth")) if ckpt_dir.is_dir() else []
    if not found:
        raise CheckpointError(f"ResNet18 weights not found in {ckpt_dir}: fetch them with {FETCH_HINT}, "
                              f"or use the default extractor efficientnet_lite0")
    return found[-1]


def load_resnet18_features(path: str | Path | None = None) -> nn.Module:
    """ImageNet ResNet18 with its classifier removed: (B, 3, H, W) -> (B, 512); eval mode."""
    p = Path(path) if path is not None else resnet18_weights_path()
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for damaged files
        raise CheckpointError(f"cannot read ResNet18 weights {p} ({type(e).__name__}): delete it and fetch again with {FETCH_HINT}") from e
    from torchvision.models import resnet18  # imported here: torchvision costs ~1.5 s of start-up

    model = resnet18(weights=None)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"ResNet18 weights {p} do not fit torchvision's resnet18: {str(e).splitlines()[0]}") from e
    model.fc = nn.Identity()  # after the strict load, so the checkpoint's fc is checked too
    return model.eval()
