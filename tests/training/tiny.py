"""A tiny trained MetaD2A run (seconds) shared by tests that need real checkpoints."""

from __future__ import annotations

from pathlib import Path

from metad2a.models import ModelConfig
from metad2a.training.config import TrainerConfig
from metad2a.training.meta_train import TrainResult, meta_train
from metad2a.training.synthetic import make_synthetic_tasks

FEAT_DIM = 8


def tiny_tasks(num_tasks: int = 10, seed: int = 0):
    return make_synthetic_tasks(num_tasks=num_tasks, feat_dim=FEAT_DIM, num_classes=(2, 4), samples_per_class=3,
                                cells_per_task=8, seed=seed, splits=(0.6, 0.2, 0.2))


def tiny_model_config(**kw) -> ModelConfig:
    return ModelConfig(**({"feat_dim": FEAT_DIM, "hidden_dim": 16, "latent_dim": 8, "heads": 2, "num_inducing": 4,
                           "gnn_layers": 2} | kw))


def tiny_trainer_config(**kw) -> TrainerConfig:
    return TrainerConfig(**({"epochs": 1, "generator_epochs": 1, "batch_tasks": 4, "unlabelled_cells": 16,
                             "resume": False} | kw))


def train_tiny(out: Path, tasks=None, **trainer_kw) -> TrainResult:
    return meta_train(tasks or tiny_tasks(), tiny_model_config(), tiny_trainer_config(**trainer_kw), out)
