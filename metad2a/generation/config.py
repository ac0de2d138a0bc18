"""The schema of ``conf/generate.yaml``: what each option of generate.py is, by type.

``register_configs()`` stores ``GenerateConfig`` in Hydra's ConfigStore as ``generate_schema``,
the first entry of conf/generate.yaml's defaults list, so Hydra refuses ``top_k=ten`` or an
unknown key with its own message. Ranges and combinations are ``options.check_options``'s.
The predictor node stays free-form: its ``_target_`` class defines its arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DataOptions:
    path: str | None = None  # None: the built-in example dataset
    format: str = "auto"  # auto | folder | idx | npz
    images_per_class: int = 20
    max_images: int | None = 500
    min_per_class: int = 2
    image_size: int = 64
    max_pixels: int = 64_000_000


@dataclass
class FeatureOptions:
    resolution: int = 128
    cache: bool = True
    threads: int | None = 1
    batch_size: int = 16


@dataclass
class NetworkOptions:
    C: int = 16
    N: int = 5
    cost_input_size: int = 32


@dataclass
class GenerateConfig:
    """Fields in conf/generate.yaml's composition order, so the JSON's ``config`` keeps its order."""

    predictor: Any = None  # a node with ``_target_`` (conf/predictor/)
    data: DataOptions = field(default_factory=DataOptions)
    features: FeatureOptions = field(default_factory=FeatureOptions)
    search: str = "generator"
    num_samples: int | None = None
    temperature: float = 1.0
    top_k: int = 10
    generator_checkpoint: str = "meta_data/checkpoints/generator.pt"
    network: NetworkOptions = field(default_factory=NetworkOptions)
    train_best: bool = False
    train_best_k: int = 3
    train_recipe: str = "mini"
    output: str | None = None
    model_file: str | None = None
    seed: int = 0
    threads: int | None = None
    progress: bool = True
    allow_slow: bool = False


def register_configs() -> None:
    """Store ``GenerateConfig`` as ``generate_schema`` (what conf/generate.yaml's defaults list names first)."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="generate_schema", node=GenerateConfig)
