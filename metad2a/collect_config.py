"""The schema of ``conf/collect.yaml``: what each option of ``python -m metad2a.collect`` is, by type.

``register_configs()`` stores ``CollectConfig`` in Hydra's ConfigStore as ``collect_schema``, the
first entry of conf/collect.yaml's defaults list, so Hydra refuses ``max_runs=many`` or an unknown
key with its own message. The recipe node stays free-form: ``Recipe.from_dict`` checks it, and
its hash must not change with the schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class CollectTasks:
    source: str = "tiny-imagenet"  # meta-train: tiny-imagenet | synthetic
    num: int = 100
    k: int = 20
    seed: int = 0
    fractions: list[float] = field(default_factory=lambda: [0.8, 0.1, 0.1])
    datasets: list[str] = field(default_factory=lambda: ["cifar10", "mnist", "fashion-mnist"])
    # Database v2: several sources, each {source, num, ks, train_counts, test_per_class}
    # (collect.plan_tasks checks them); empty means the single source above.
    groups: list[Any] = field(default_factory=list)
    nb201_import: bool = False


@dataclass
class CollectCells:
    per_task: int = 20
    shared: int = 0
    seed: int = 0


@dataclass
class CollectNoise:
    split: str = "test"
    tasks: int = 10
    cells: int = 30
    seeds: list[int] = field(default_factory=lambda: [0, 1])


@dataclass
class CollectFeatures:
    path: str = "meta_data/features_meta-train.npz"
    extractor: str = "efficientnet_lite0"
    resolution: int = 128
    image_size: int = 64
    n_per_class: int = 20


@dataclass
class CollectConfig:
    """Fields in conf/collect.yaml's composition order, so the stored ``collect_config`` keeps its order."""

    recipe: Any = None  # conf/recipe/
    kind: str = "meta-train"
    stage: str = "records"
    out_dir: str = "meta_data"
    db: str = "meta_data/meta-train.sqlite"
    data_root: str | None = None
    probe_result: str | None = None
    tasks: CollectTasks = field(default_factory=CollectTasks)
    cells: CollectCells = field(default_factory=CollectCells)
    seeds: list[int] = field(default_factory=lambda: [0])
    # Per-kind defaults that cells and seeds interpolate from (conf/collect.yaml).
    cells_per_kind: dict[str, CollectCells] | None = None
    seeds_per_kind: dict[str, list[int]] | None = None
    noise: CollectNoise | None = field(default_factory=CollectNoise)
    worker: int = 0
    num_workers: int = 1
    device: str = "auto"
    threads: int = 1
    max_runs: int | None = None
    lease_s: float = 300.0
    progress: bool = True
    features: CollectFeatures = field(default_factory=CollectFeatures)


def register_configs() -> None:
    """Store ``CollectConfig`` as ``collect_schema`` (what conf/collect.yaml's defaults list names first)."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="collect_schema", node=CollectConfig)
