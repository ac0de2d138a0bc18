"""FeatureExtractor: frozen ImageNet backbone turning uint8 images into float32 feature vectors.

``build_extractor("efficientnet_lite0")`` is the default (1280-d); ``"resnet18"`` (512-d) works
when its weights are in the local torch hub cache.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from metad2a.errors import DataError, MetaD2AError
from metad2a.features import efficientnet_lite0 as effnet
from metad2a.features import resnet18 as rn18
from metad2a.features.cache import FeatureCache, image_fingerprint

DEFAULT_EXTRACTOR = "efficientnet_lite0"
# Chosen with bench/feature_speed.py (10-way Tiny-ImageNet, 2 shared cores, 1 thread): 96 px keeps
# nearest-centroid accuracy at 0.91 (128 px: 0.93, 224 px: 0.94) at ~2.4x the speed of 128 px,
# so 200 images embed in ~2 s, inside generate.py's 10 s budget.
DEFAULT_RESOLUTION = 96


class FeatureExtractor:
    """Frozen backbone ``model``: (B, 3, R, R) normalised float -> (B, dim).

    ``extract(images)``: images (N, H, W, 3) uint8 -> (N, dim) float32. Images are resized to
    ``resolution`` x ``resolution`` (bilinear), scaled to [0, 1] and normalised with mean/std.
    ``images_computed`` counts images that went through the model (cache hits do not).
    ``num_threads`` sets torch's intra-op threads during extraction only (None: leave as is);
    on shared, oversubscribed CPU cores 1 thread can be many times faster than 2.
    """

    def __init__(self, model: nn.Module, name: str, dim: int, resolution: int,
                 mean: Sequence[float], std: Sequence[float], tag: str = "",
                 batch_size: int = 64, device: str | torch.device = "cpu", num_threads: int | None = None):
        if resolution < 32:
            raise MetaD2AError(f"feature resolution {resolution} is too small: use at least 32 pixels")
        self.device = torch.device(device)
        self.model = model.eval().to(self.device)
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.name, self.dim, self.resolution, self.batch_size = name, dim, resolution, batch_size
        self.num_threads = num_threads
        self.tag = tag or name  # cache namespace: changes when the weights change
        self._mean = torch.tensor(mean, dtype=torch.float32, device=self.device).view(1, 3, 1, 1) * 255.0
        self._std = torch.tensor(std, dtype=torch.float32, device=self.device).view(1, 3, 1, 1) * 255.0
        self.images_computed = 0

    def preprocess(self, batch: np.ndarray) -> torch.Tensor:
        """(B, H, W, 3) uint8 -> (B, 3, R, R) normalised float32 on the model's device."""
        x = torch.from_numpy(np.ascontiguousarray(batch)).to(self.device).permute(0, 3, 1, 2).float()
        if x.shape[-2:] != (self.resolution, self.resolution):
            shrink = x.shape[-1] > self.resolution or x.shape[-2] > self.resolution
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear",
                              align_corners=False, antialias=shrink)
        return (x - self._mean) / self._std

    def _compute(self, images: np.ndarray, progress: bool) -> np.ndarray:
        out = np.empty((len(images), self.dim), dtype=np.float32)
        bar = tqdm(total=len(images), desc=f"features ({self.name}@{self.resolution})", unit="img",
                   leave=False, disable=True if not progress else None)
        threads_before = torch.get_num_threads()
        if self.num_threads:
            torch.set_num_threads(self.num_threads)
        try:
            with torch.inference_mode():
                for i in range(0, len(images), self.batch_size):
                    chunk = images[i : i + self.batch_size]
                    out[i : i + len(chunk)] = self.model(self.preprocess(chunk)).float().cpu().numpy()
                    self.images_computed += len(chunk)
                    bar.update(len(chunk))
        finally:
            torch.set_num_threads(threads_before)
            bar.close()
        return out

    def extract(self, images: np.ndarray, cache: FeatureCache | None = None, progress: bool = True) -> np.ndarray:
        """Features of ``images`` (N, H, W, 3) uint8 -> (N, dim) float32, via ``cache`` if given."""
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise DataError(f"feature extraction needs (N, H, W, 3) uint8 images, got {images.shape} {images.dtype}")
        if len(images) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        if cache is None:
            return self._compute(images, progress)
        key = image_fingerprint(images)
        hit = cache.get(self.tag, self.resolution, key, n=len(images))
        if hit is not None and hit.shape[1] == self.dim:
            return hit
        feats = self._compute(images, progress)
        cache.put(self.tag, self.resolution, key, feats)
        return feats

    __call__ = extract


def _efficientnet(resolution: int, batch_size: int, device: str, num_threads: int | None) -> FeatureExtractor:
    model = effnet.load_efficientnet_lite0().fuse_bn()
    model.classifier = nn.Identity()  # after the strict load; dropout is inert in eval mode
    return FeatureExtractor(model, "efficientnet_lite0", effnet.FEATURE_DIM, resolution, effnet.MEAN, effnet.STD,
                            tag=f"efficientnet_lite0-{effnet.weights_tag()}", batch_size=batch_size, device=device,
                            num_threads=num_threads)


def _resnet18(resolution: int, batch_size: int, device: str, num_threads: int | None) -> FeatureExtractor:
    path = rn18.resnet18_weights_path()
    model = rn18.load_resnet18_features(path)
    return FeatureExtractor(model, "resnet18", rn18.FEATURE_DIM, resolution, rn18.MEAN, rn18.STD,
                            tag=f"resnet18-{path.stem.split('-')[-1]}", batch_size=batch_size, device=device,
                            num_threads=num_threads)


EXTRACTORS: dict[str, Callable[[int, int, str, int | None], FeatureExtractor]] = {
    "efficientnet_lite0": _efficientnet,
    "resnet18": _resnet18,
}


def build_extractor(name: str = DEFAULT_EXTRACTOR, resolution: int = DEFAULT_RESOLUTION,
                    batch_size: int = 64, device: str = "cpu", num_threads: int | None = None) -> FeatureExtractor:
    """A ready FeatureExtractor by name; raises MetaD2AError for unknown names, CheckpointError for missing weights."""
    if name not in EXTRACTORS:
        raise MetaD2AError(f"unknown feature extractor {name!r}: use one of {', '.join(EXTRACTORS)}")
    return EXTRACTORS[name](resolution, batch_size, device, num_threads)


def available_extractors() -> list[str]:
    """Extractor names whose weights are present locally (nothing is downloaded)."""
    out = []
    try:
        effnet.weights_path()
        out.append("efficientnet_lite0")
    except MetaD2AError:
        pass
    try:
        rn18.resnet18_weights_path()
        out.append("resnet18")
    except MetaD2AError:
        pass
    return out
