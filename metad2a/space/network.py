"""The NB201 macro network as a plain ``nn.Module``, with parameter and FLOP counts.

Skeleton: 3x3 stem (C channels) + BN; 3 stages of N cells at C, 2C, 4C channels, joined
by stride-2 residual blocks; BN-ReLU, global average pooling and a linear head.
"""

from __future__ import annotations

import torch
from torch import nn

from metad2a.space.arch import parse
from metad2a.space.ops import EDGES


class ReLUConvBN(nn.Sequential):
    """ReLU -> Conv(k, no bias) -> BN.  x: (B, C_in, H, W) -> (B, C_out, H/stride, W/stride)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
        )


class Zero(nn.Module):
    """The ``none`` op: returns zeros of the input's shape."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def make_op(op: str, channels: int) -> nn.Module:
    """One NB201 edge op at stride 1 (shape-preserving)."""
    if op == "none":
        return Zero()
    if op == "skip_connect":
        return nn.Identity()
    if op == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1)
    if op == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3)
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown op {op!r}")


class Cell(nn.Module):
    """One NB201 cell: node j = sum over i<j of op_ij(node i).  x: (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, arch: str, channels: int):
        super().__init__()
        self.ops = nn.ModuleList(make_op(op, channels) for op in parse(arch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for j in (1, 2, 3):
            nodes.append(sum(op(nodes[s]) for op, (s, d) in zip(self.ops, EDGES) if d == j))
        return nodes[3]


class ResidualReduction(nn.Module):
    """Stride-2 basic residual block between stages.  x: (B, C_in, H, W) -> (B, C_out, H/2, W/2)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, stride=2)
        self.conv_b = ReLUConvBN(c_out, c_out, 3)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(2, stride=2, padding=0), nn.Conv2d(c_in, c_out, 1, bias=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_b(self.conv_a(x)) + self.downsample(x)


class NB201Network(nn.Module):
    """NB201 macro network for one cell.  x: (B, in_channels, H, W) -> logits (B, num_classes).

    Works for any H, W >= 4 (two stride-2 reductions, then global pooling).
    """

    def __init__(self, arch: str, num_classes: int, C: int = 16, N: int = 5, in_channels: int = 3):
        super().__init__()
        self.arch, self.num_classes = arch, num_classes
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        layers: list[nn.Module] = []
        for stage, ch in enumerate((C, 2 * C, 4 * C)):
            if stage > 0:
                layers.append(ResidualReduction(ch // 2, ch))
            layers.extend(Cell(arch, ch) for _ in range(N))
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(4 * C), nn.ReLU(inplace=False))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(4 * C, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lastact(self.cells(self.stem(x)))
        return self.classifier(self.pool(x).flatten(1))


def build_model(arch: str, num_classes: int, C: int = 16, N: int = 5, in_channels: int = 3) -> NB201Network:
    """Build the NB201 network for ``arch`` (validated) with a ``num_classes`` head."""
    parse(arch)
    if in_channels not in (1, 3):
        raise ValueError(f"in_channels must be 1 or 3, got {in_channels}")
    return NB201Network(arch, num_classes, C=C, N=N, in_channels=in_channels)


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def count_flops(model: nn.Module, input_size: tuple[int, int, int] = (3, 32, 32)) -> int:
    """FLOPs of one forward pass of one image, counted the way NB201 tables do.

    Conv and linear layers count their multiply-accumulates (plus bias); BN counts 2 per
    output element, ReLU 1 and average pooling k*k. Agrees with the NB201 ``flops`` column
    to within 0.002 MFLOPs at 16x16.
    """
    total = 0

    def hook(m: nn.Module, _inp, out: torch.Tensor) -> None:
        nonlocal total
        n = out.numel() // out.shape[0]
        if isinstance(m, nn.Conv2d):
            kh, kw = m.kernel_size
            total += n * (m.in_channels // m.groups) * kh * kw + (n if m.bias is not None else 0)
        elif isinstance(m, nn.Linear):
            total += n * m.in_features + (m.out_features if m.bias is not None else 0)
        elif isinstance(m, nn.AvgPool2d):
            k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
            total += n * k * k
        elif isinstance(m, nn.BatchNorm2d):
            total += 2 * n
        elif isinstance(m, nn.ReLU):
            total += n

    counted = (nn.Conv2d, nn.Linear, nn.AvgPool2d, nn.BatchNorm2d, nn.ReLU)
    hooks = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, counted)]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, *input_size, device=next(model.parameters()).device))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return total
