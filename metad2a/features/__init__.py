"""Frozen ImageNet feature extractors (EfficientNet-Lite0 by default, ResNet18 optional) and their disk cache."""

from metad2a.features.cache import FeatureCache, default_cache_dir, image_fingerprint
from metad2a.features.efficientnet_lite0 import EfficientNetLite0, load_efficientnet_lite0
from metad2a.features.extractor import (
    DEFAULT_EXTRACTOR,
    DEFAULT_RESOLUTION,
    EXTRACTORS,
    FeatureExtractor,
    available_extractors,
    build_extractor,
)
from metad2a.features.resnet18 import load_resnet18_features, resnet18_weights_path

__all__ = [
    "DEFAULT_EXTRACTOR", "DEFAULT_RESOLUTION", "EXTRACTORS", "EfficientNetLite0", "FeatureCache",
    "FeatureExtractor", "available_extractors", "build_extractor", "default_cache_dir", "image_fingerprint",
    "load_efficientnet_lite0", "load_resnet18_features", "resnet18_weights_path",
]
