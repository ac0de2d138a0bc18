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
    """

    task_id: str
    split: str
    features: np.ndarray
    archs: list[str] = field(default_factory=list)
    accs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))

    @property
    def num_classes(self) -> int:
        return int(self.features.shape[0])
