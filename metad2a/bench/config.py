"""The schema of ``conf/bench/default.yaml`` (and ``tiny.yaml``, which builds on it).

``register_configs()`` stores ``BenchConfig`` in Hydra's ConfigStore as ``bench_schema``, the
first entry of the benchmark's defaults list, so Hydra refuses ``seeds=[a]`` or an unknown key
with its own message. Each method's node stays free-form: its ``_target_`` class (``methods.py``)
defines its arguments, and the result cache hashes those nodes as written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from metad2a.training.logging import LoggerConfig


@dataclass
class BenchDatasets:
    """The held-out datasets, in report order: tables, meta-test store, held-out domains, within-distribution."""

    table: list[str] = field(default_factory=list)  # meta-test datasets whose truth is an NB201 table (cifar100, cifar10-nb201)
    table_features: str = "meta_data/features_meta-test.npz"
    meta_test: list[str] = field(default_factory=list)  # task ids in the meta-test store
    meta_test_db: str = "meta_data/meta-test.sqlite"
    meta_test_features: str = "meta_data/features_meta-test.npz"
    lodo: list[str] = field(default_factory=list)  # image sources held out in turn (leave-one-domain-out)
    lodo_dir: str = "meta_data/lodo"  # <source>/{predictor,predictor_agnostic,generator}.pt
    lodo_max_tasks: int | None = None  # at most this many tasks per held-out domain
    meta_train_db: str = "meta_data/meta-train.sqlite"  # database v2: the domains' tasks; GRAF-RF fits on it
    meta_train_features: str = "meta_data/features_meta-train.npz"
    split: str | None = "test"  # the within-distribution row: this split's tasks of within_db (None for none)
    within_db: str = "meta_data/v1/meta-train.sqlite"
    within_features: str = "meta_data/v1/features_meta-train.npz"
    tasks: list[str] | None = None  # only these task ids of ``split``
    max_tasks: int | None = None
    recipe_hash: str | None = None  # None: each task's one recipe


@dataclass
class BenchGroundTruth:
    cache_dir: str = "bench/results/ground_truth"
    device: str = "auto"  # auto | cpu | cuda


@dataclass
class BenchConfig:
    """Fields in conf/bench/default.yaml's composition order, so transfer.json's ``config`` keeps its order."""

    logger: LoggerConfig = field(default_factory=LoggerConfig)
    methods: dict[str, Any] = field(default_factory=dict)  # name -> a node with ``_target_`` (conf/bench/method/)
    meta_data_dir: str = "meta_data"
    checkpoint_dir: str = "meta_data/checkpoints"
    data_root: str | None = None
    out_dir: str = "bench/results"
    only: list[str] | None = None
    datasets: BenchDatasets = field(default_factory=BenchDatasets)
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    timing_repeats: int = 3
    result_cache: str | None = None
    ground_truth: BenchGroundTruth = field(default_factory=BenchGroundTruth)
    rank_scatter_method: str = "metad2a"
    wandb_group: str | None = None
    threads: int | None = None
    progress: bool = True


def register_configs() -> None:
    """Store ``BenchConfig`` as ``bench_schema`` (what conf/bench/default.yaml's defaults list names first)."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="bench_schema", node=BenchConfig)
