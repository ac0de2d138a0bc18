"""Meta-training settings: the loop's ``TrainerConfig`` and ``TrainConfig``, the schema of ``conf/train.yaml``.

``register_configs()`` stores ``TrainConfig`` in Hydra's ConfigStore as ``train_schema``, the
first entry of conf/train.yaml's defaults list. Hydra then refuses a wrong type
(``trainer.epochs=abc``) or an unknown key (``model.hiden_dim=64``, or a typo in a YAML file)
with its own message before anything runs. ``train_settings`` refuses the keys Hydra lets
through with ``+`` and what a type cannot say (ranges, choices, fields that depend on each
other): one ``ConfigError`` line that says what to set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Mapping

from metad2a.errors import ConfigError
from metad2a.models.config import ModelConfig
from metad2a.schema import refuse_unknown_keys
from metad2a.training.logging import LoggerConfig


@dataclass
class TrainerConfig:
    """Loop settings (mirrors ``conf/trainer/default.yaml``)."""

    epochs: int = 150  # phase 1: the predictors
    generator_epochs: int = 30  # phase 2: the generator, on the selected predictor's top cells
    generator_targets: str = "predictor"  # predictor (distilled top cells) | evaluated (each task's best runs)
    generator_top_k: int = 10  # distilled targets per dataset ...
    rank_cells: int = 48  # ... plus this many random cells ranked by predicted accuracy
    max_cells_per_task: int = 128  # a larger task (NB201's table: 15,625) gives a random subset per step
    batch_tasks: int = 8
    lr: float = 1e-3
    min_lr_frac: float = 0.1  # cosine decay from lr to lr * min_lr_frac
    weight_decay: float = 1e-4
    grad_clip: float = 5.0
    samples_per_class: int = 20  # a fresh random subset of each class's samples every step
    unlabelled_cells: int = 128  # uniform NB201 cells per generator step (graph->graph term)
    top_k: int = 5  # generator targets: see training/generator_targets.py
    top_frac: float = 0.2
    target_temperature: float = 1.0
    train_generator: bool = True
    train_predictor: bool = True
    train_agnostic: bool = True  # the dataset-agnostic baseline predictor
    eval_every: int = 1
    resume: bool = True  # continue from <checkpoint_dir>/last.pt when it exists
    time_limit_min: float | None = None  # stop (resumably) after this much wall time
    num_threads: int | None = None
    device: str = "cpu"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TrainerConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in dict(d).items() if k in names})

    def lr_at(self, epoch: int, epochs: int | None = None) -> float:
        """Learning rate of epoch ``epoch`` (0-based) of a phase of ``epochs`` (default ``self.epochs``):
        cosine from ``lr`` down to ``lr * min_lr_frac``."""
        frac = 0.5 * (1.0 + math.cos(math.pi * epoch / max(self.epochs if epochs is None else epochs, 1)))
        return self.lr * (self.min_lr_frac + (1.0 - self.min_lr_frac) * frac)


@dataclass
class EvaluateConfig:
    """After training: the exports on held-out tasks (``training.evaluate.report_held_out``)."""

    split: str | None = "test"  # these meta-training tasks (null skips)
    meta_test: bool = True  # and each meta-test dataset, when its store and features exist
    meta_test_db: str | None = None
    meta_test_features: str | None = None
    samples: int = 1000  # generator samples per task for validity / uniqueness / novelty (0 skips)


@dataclass
class TrainConfig:
    """The whole of ``conf/train.yaml`` (fields in its composition order, so resolved configs keep their order)."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: Any = None  # a node with ``_target_`` (conf/data/): its keys are the target's arguments
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    seed: int = 0
    meta_data_dir: str = "meta_data"
    checkpoint_dir: str = "meta_data/checkpoints"
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)


def register_configs() -> None:
    """Store ``TrainConfig`` as ``train_schema`` (what conf/train.yaml's defaults list names first)."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="train_schema", node=TrainConfig)


RANK_LOSSES, CELL_FEATURES = ("pairwise", "listnet"), ("none", "graf")


def check_train_config(model: ModelConfig, trainer: TrainerConfig) -> None:
    """Refuse values a type cannot rule out, one ``ConfigError`` line each, before anything is loaded."""
    positive = {"trainer.epochs": trainer.epochs, "trainer.batch_tasks": trainer.batch_tasks,
                "trainer.eval_every": trainer.eval_every, "model.feat_dim": model.feat_dim,
                "model.hidden_dim": model.hidden_dim, "model.latent_dim": model.latent_dim,
                "model.heads": model.heads, "model.num_inducing": model.num_inducing, "trainer.top_k": trainer.top_k}
    for key, v in positive.items():
        if v < 1:
            raise ConfigError(f"{key}={v}: must be at least 1")
    if not trainer.lr > 0:
        raise ConfigError(f"trainer.lr={trainer.lr}: must be > 0, e.g. trainer.lr=1e-3")
    if not 0 <= trainer.min_lr_frac <= 1:
        raise ConfigError(f"trainer.min_lr_frac={trainer.min_lr_frac}: must be between 0 and 1")
    if not 0 < trainer.top_frac <= 1:
        raise ConfigError(f"trainer.top_frac={trainer.top_frac}: must be in (0, 1], the share of a task's cells "
                          "the generator learns to decode")
    if model.hidden_dim % model.heads:
        raise ConfigError(f"model.hidden_dim={model.hidden_dim} is not divisible by model.heads={model.heads}: "
                          "change one of them")
    if model.rank_loss not in RANK_LOSSES:
        raise ConfigError(f"model.rank_loss={model.rank_loss}: use model.rank_loss=pairwise or listnet")
    if model.cell_features not in CELL_FEATURES:
        raise ConfigError(f"model.cell_features={model.cell_features}: use model.cell_features=none or graf")
    if trainer.generator_targets not in ("predictor", "evaluated"):
        raise ConfigError(f"trainer.generator_targets={trainer.generator_targets}: use predictor or evaluated")
    if trainer.generator_epochs < 0 or trainer.max_cells_per_task < 2 or trainer.generator_top_k < 1:
        raise ConfigError("trainer.generator_epochs must be >= 0, max_cells_per_task >= 2 and generator_top_k >= 1")
    if model.answer_recipe not in model.recipes:
        raise ConfigError(f"model.answer_recipe={model.answer_recipe} is not in model.recipes={list(model.recipes)}: "
                          "add it there")
    if not (trainer.train_generator or trainer.train_predictor or trainer.train_agnostic):
        raise ConfigError("trainer.train_generator, train_predictor and train_agnostic are all false: "
                          "set at least one to true")


def train_settings(cfg: Mapping[str, Any]) -> tuple[ModelConfig, TrainerConfig]:
    """The model and loop settings of a composed conf/train.yaml, refused in one line if they cannot work."""
    refuse_unknown_keys(cfg, TrainConfig)
    model, trainer = ModelConfig.from_dict(cfg["model"]), TrainerConfig.from_dict(cfg["trainer"])
    check_train_config(model, trainer)
    return model, trainer
