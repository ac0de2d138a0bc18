"""The in-memory view of one task that meta-training and evaluation consume."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class TaskData:
    """One task (a class subset of a dataset) with its frozen features and evaluated cells.

    features: (num_classes, n_per_class, D) float32 frozen image features
    archs:    NB201 arch strings of the evaluated cells
    accs:     (len(archs),) accuracy in percent, averaged over seeds
    split:    "train" | "valid" | "test" (task-disjoint meta splits) | "meta-test"
    recipe:   name of the recipe that labelled the accuracies ("truth", "nb201-200ep", "mini"); tasks
              made in memory (synthetic, tests) count as "truth", the project's own recipe
    source:   where the images come from ("tiny-imagenet", "kannada", ..., "cifar10"; "" unknown)
    """

    task_id: str
    split: str
    features: np.ndarray
    archs: list[str] = field(default_factory=list)
    accs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    recipe: str = "truth"
    source: str = ""

    @property
    def num_classes(self) -> int:
        return int(self.features.shape[0])
