"""NASWOT: training-free scoring from ReLU activation patterns (Mellor et al., ICML 2021, final version).

For one batch of B images, every ReLU's input is binarised per image into a code
c in {0,1}^U (U = the ReLU's input units per image, C*H*W). The kernel

    K = sum over hooked ReLUs of  c c^T + (1 - c)(1 - c)^T        (B, B)

counts, for each pair of images, the units on which their codes agree (U minus the Hamming
distance). The score is log|K| (``slogdet``): networks whose ReLUs separate the images of
the batch into distinct linear regions score higher.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from metad2a.errors import DataError
from metad2a.predictors.base import DatasetSample
from metad2a.space.network import build_model


def naswot_kernel(codes: torch.Tensor) -> torch.Tensor:
    """K = c c^T + (1 - c)(1 - c)^T for binary codes c: (B, U) -> K: (B, B) float64.

    With s = 2c - 1 in {-1, +1}, K = (U + s s^T) / 2, so one matmul suffices. The matmul runs in
    float32, which is exact here: every partial sum is an integer of magnitude <= U < 2^24.
    """
    if codes.dim() != 2:
        raise ValueError(f"codes must be (B, U), got shape {tuple(codes.shape)}")
    s = codes.float().mul(2.0).sub(1.0)
    return (s @ s.T).double().add(codes.shape[1]).div(2.0)


def relu_kernel(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Sum of ``naswot_kernel`` over the inputs of every ``nn.ReLU`` of ``model``: (B, B) float64.

    images: (B, C, H, W). BN runs in train mode (batch statistics), as in NASWOT.
    """
    batch = images.shape[0]
    kernel = torch.zeros(batch, batch, dtype=torch.float64, device=images.device)

    def hook(_m: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        kernel.add_(naswot_kernel(inputs[0].reshape(batch, -1) > 0))

    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if isinstance(m, nn.ReLU)]
    was_training = model.training
    model.train()
    try:
        with torch.no_grad():
            model(images)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return kernel


def naswot_score(model: nn.Module, images: torch.Tensor) -> float:
    """log|K| of ``model`` on ``images``: (B, C, H, W).

    Returns -inf when K is singular (e.g. a cell that cuts input from output and has no conv,
    so every image yields the same codes after the stem).
    """
    sign, logdet = torch.linalg.slogdet(relu_kernel(model, images))
    return float(logdet) if sign > 0 else float("-inf")


class NASWOTScorer:
    """Scores NB201 cells by NASWOT on one fixed batch of the dataset's images.

    Each cell's network is built at (C, N) with weights drawn from ``torch.manual_seed(seed)``
    and sees the same ``batch_size`` images (a seeded subset of ``dataset.images``), so a
    score depends only on the cell. Higher is better.
    """

    name = "naswot"

    def __init__(self, batch_size: int = 128, C: int = 16, N: int = 5, seed: int = 0, device: str = "cpu"):
        self.batch_size, self.C, self.N, self.seed, self.device = batch_size, C, N, seed, device

    def batch(self, dataset: DatasetSample | None) -> torch.Tensor:
        """The fixed image batch taken from ``dataset.images``: (batch_size, C, H, W)."""
        images = getattr(dataset, "images", None)
        if images is None or images.dim() != 4:
            raise DataError("NASWOT needs dataset.images as an (N, C, H, W) float tensor; load the images first")
        if images.shape[0] < 2 or images.shape[1] not in (1, 3):
            raise DataError(f"NASWOT needs >= 2 images with 1 or 3 channels, got shape {tuple(images.shape)}")
        n = min(self.batch_size, images.shape[0])
        idx = torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(self.seed))[:n]
        return images[idx.sort().values].float().to(self.device)

    def score(self, archs: Sequence[str], dataset: DatasetSample | None = None) -> np.ndarray:
        """NASWOT score of each cell: (len(archs),) float64; -inf where the kernel is singular."""
        images = self.batch(dataset)
        num_classes = max(int(getattr(dataset, "num_classes", 0) or 0), 1)  # the head does not affect the score
        out = np.empty(len(archs), dtype=np.float64)
        for i, arch in enumerate(archs):
            with torch.random.fork_rng(devices=[]):  # seed the weights without touching the caller's RNG
                torch.manual_seed(self.seed)
                model = build_model(arch, num_classes, C=self.C, N=self.N, in_channels=images.shape[1])
            out[i] = naswot_score(model.to(self.device), images)
        return out
