"""A tiny run logger: Weights & Biases (offline unless asked) or nothing.

``conf/logger/wandb.yaml`` -> ``WandbLogger`` (mode offline by default, ``logger.mode=online``
to sync live); ``conf/logger/none.yaml`` -> ``NullLogger``. Both print nothing themselves;
the training loop prints its own one-line epoch summaries (``epoch_line``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

from metad2a.errors import ConfigError


@dataclass
class LoggerConfig:
    """Schema of ``conf/logger/*.yaml`` (and ``conf/bench/logger/``): which logger, and W&B's settings."""

    name: str = "none"  # wandb | none
    project: str = "metad2a"
    mode: str = "offline"  # offline | online | disabled
    group: str | None = None
    run_name: str | None = None  # W&B run name (None: W&B picks one)


class NullLogger:
    """Logs nothing (``logger=none``)."""

    def log(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        pass

    def summary(self, metrics: Mapping[str, Any]) -> None:
        pass

    def finish(self) -> None:
        pass


class WandbLogger:
    """Logs the config at start, scalars per epoch and final metrics as the run summary."""

    def __init__(self, config: Mapping[str, Any], project: str = "metad2a", mode: str = "offline",
                 group: str | None = None, name: str | None = None, dir: str | None = None):
        import wandb  # imported here so logger=none never pays for it

        if mode not in ("offline", "online", "disabled"):
            raise ConfigError(f"logger.mode={mode!r}: use offline, online or disabled")
        dir = os.environ.get("WANDB_DIR") or dir
        if dir:
            os.makedirs(dir, exist_ok=True)
        self.run = wandb.init(project=project, mode=mode, group=group, name=name, dir=dir,
                              config=dict(config), reinit="finish_previous")

    def log(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self.run.log(dict(metrics), step=step)

    def summary(self, metrics: Mapping[str, Any]) -> None:
        self.run.summary.update(dict(metrics))

    def finish(self) -> None:
        self.run.finish()


def make_logger(logger_cfg: Mapping[str, Any], config: Mapping[str, Any],
                dir: str | None = None) -> NullLogger | WandbLogger:
    """Build the logger that ``logger_cfg["name"]`` names ("wandb" or "none"); ``config`` is logged."""
    name = logger_cfg.get("name", "none")
    if name == "none":
        return NullLogger()
    if name == "wandb":
        return WandbLogger(config, project=logger_cfg.get("project", "metad2a"), mode=logger_cfg.get("mode", "offline"),
                           group=logger_cfg.get("group"), name=logger_cfg.get("run_name"), dir=dir)
    raise ConfigError(f"unknown logger {name!r}: use logger=wandb or logger=none")


def epoch_line(row: Mapping[str, Any]) -> str:
    """The printed summary of one epoch's metrics: the epoch, validation metrics and losses."""
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()
                    if k == "epoch" or k.startswith("val/") or k.endswith("/loss"))
