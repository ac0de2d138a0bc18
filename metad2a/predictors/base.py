"""The protocol every cell scorer follows: score a list of NB201 cells for one dataset."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

import numpy as np
import torch


@dataclass
class DatasetSample:
    """What a scorer may look at about the target dataset; each field is optional.

    images:   (N, C, H, W) float tensor, normalised (for training-free scores such as NASWOT)
    labels:   (N,) long tensor of class ids in ``0..num_classes-1``
    features: (num_classes, n_per_class, D) frozen features (for the meta-predictor)
    recipe:   the training whose ranking is asked for (a recipe name, e.g. "truth"); None asks
              for the scorer's own answer (the meta-predictor's: proper training)
    """

    name: str = "dataset"
    num_classes: int = 0
    images: torch.Tensor | None = None
    labels: torch.Tensor | None = None
    features: torch.Tensor | None = None
    recipe: str | None = None


@runtime_checkable
class Scorer(Protocol):
    """Scores cells for a dataset; higher is better. ``name`` identifies it in results."""

    name: str

    def score(self, archs: Sequence[str], dataset: DatasetSample | None = None) -> np.ndarray:
        """Return a float array of shape (len(archs),)."""
        ...
