"""Readers for the NB201 result tables in the shared data (used for validation and the
optional ``nb201-prior`` configuration, never by the default model)."""

from __future__ import annotations

import csv
import json
import os
from functools import lru_cache

from metad2a.shared_data import shared_file


@lru_cache(maxsize=2)
def test_accuracy(root: str | os.PathLike | None = None) -> dict[str, dict[str, float]]:
    """arch -> {"index", "cifar100_test", "imagenet16_120_test"} for all 15,625 cells."""
    out = {}
    with open(shared_file("nb201/nb201_test_accuracy.csv", root), newline="") as f:
        for r in csv.DictReader(f):
            out[r["arch"]] = {"index": int(r["index"]), "cifar100_test": float(r["cifar100_test"]),
                              "imagenet16_120_test": float(r["imagenet16_120_test"])}
    return out


@lru_cache(maxsize=2)
def zero_cost_proxies(root: str | os.PathLike | None = None) -> dict[str, dict[str, float]]:
    """arch -> {proxy name: value} for the 9,445 cells of the ImageNet16-120 proxy table."""
    out = {}
    with open(shared_file("nb201/nb201_zero_cost_proxies_imagenet16_120.csv", root), newline="") as f:
        for r in csv.DictReader(f):
            out[r.pop("arch")] = {k: float(v) for k, v in r.items()}
    return out


@lru_cache(maxsize=2)
def learning_curves(root: str | os.PathLike | None = None) -> dict[str, dict[str, list[float]]]:
    """arch -> {"train_acc", "valid_acc"}: 200-epoch cifar10-valid curves of cells 0-199."""
    out = {}
    with open(shared_file("nb201/nb201_cifar10_valid_learning_curves_200.csv", root), newline="") as f:
        for r in csv.DictReader(f):
            out[r["arch"]] = {"train_acc": json.loads(r["train_acc_curve"]),
                              "valid_acc": json.loads(r["valid_acc_curve"])}
    return out


def cifar10_valid_200(root: str | os.PathLike | None = None) -> dict[str, float]:
    """arch -> NB201's cifar10-valid accuracy after 200 epochs (the last point of its curve), cells 0-199."""
    return {a: c["valid_acc"][-1] for a, c in learning_curves(root).items()}
