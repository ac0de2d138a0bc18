"""Small synthetic meta-training tasks where accuracy depends on the dataset *and* the cell.

Each task has a hidden vector u (k dims). Its features are class prototypes scattered around
A u, so a set encoder can recover u from them. A cell is its (6 edges x 5 ops) one-hot e, and

    acc(u, e) = 70 - 4 |u_0| + 2 e.b + 2 e.(M u) + noise

with b a fixed global op quality (conv3x3 > conv1x1 > skip, pool > none) and M a fixed
interaction: which cell is best differs from task to task, so a dataset-agnostic predictor
can learn e.b but not e.(M u). ``SyntheticWorld.accuracy`` is the noiseless oracle, defined
for every cell, which lets tests and reports grade generated cells that no task evaluated.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from metad2a.database.task_data import TaskData
from metad2a.space import OPS, all_archs, parse

# Global op quality in OPS order: none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3.
_OP_QUALITY = np.array([-1.0, 0.0, 0.5, 1.0, 0.0])


def cell_one_hot(archs: Sequence[str]) -> np.ndarray:
    """(n, 30) one-hot of the 6 edge ops, edge-major."""
    out = np.zeros((len(archs), 6 * len(OPS)), dtype=np.float32)
    for i, a in enumerate(archs):
        for e, op in enumerate(parse(a)):
            out[i, e * len(OPS) + OPS.index(op)] = 1.0
    return out


class SyntheticWorld:
    """The hidden rules behind a synthetic task set, with a noiseless accuracy oracle."""

    def __init__(self, feat_dim: int = 16, latent_dim: int = 4, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.feat_dim, self.latent_dim, self.seed = feat_dim, latent_dim, seed
        self.A = rng.normal(size=(feat_dim, latent_dim)).astype(np.float32)
        self.b = np.tile(_OP_QUALITY, 6) + 0.3 * rng.normal(size=6 * len(OPS))
        self.M = rng.normal(size=(6 * len(OPS), latent_dim)) / np.sqrt(latent_dim)

    def accuracy(self, u: np.ndarray, archs: Sequence[str]) -> np.ndarray:
        """Noiseless accuracy (%) of cells on the task with hidden vector u: (n,)."""
        e = cell_one_hot(archs)
        return np.clip(70.0 - 4.0 * abs(u[0]) + 2.0 * e @ self.b + 2.0 * e @ (self.M @ u), 0.0, 100.0)

    def make_tasks(
        self,
        num_tasks: int = 30,
        num_classes: tuple[int, int] = (3, 8),
        samples_per_class: int = 6,
        cells_per_task: int = 20,
        noise: float = 0.3,
        splits: tuple[float, float, float] = (0.6, 0.2, 0.2),
        seed: int | None = None,
    ) -> tuple[list[TaskData], np.ndarray]:
        """Tasks (train first, then valid, then test) and their hidden vectors U: (num_tasks, k)."""
        rng = np.random.default_rng(self.seed + 1 if seed is None else seed)
        pool = all_archs()
        U = rng.normal(size=(num_tasks, self.latent_dim))
        n_train = int(round(splits[0] * num_tasks))
        n_valid = int(round(splits[1] * num_tasks))
        tasks = []
        for i, u in enumerate(U):
            C = int(rng.integers(num_classes[0], num_classes[1] + 1))
            protos = self.A @ u + 0.5 * rng.normal(size=(C, self.feat_dim))
            feats = protos[:, None, :] + 0.3 * rng.normal(size=(C, samples_per_class, self.feat_dim))
            archs = [pool[j] for j in rng.choice(len(pool), cells_per_task, replace=False)]
            accs = self.accuracy(u, archs) + noise * rng.normal(size=cells_per_task)
            split = "train" if i < n_train else "valid" if i < n_train + n_valid else "test"
            tasks.append(TaskData(f"syn-{i:04d}", split, feats.astype(np.float32), archs, accs.astype(np.float32),
                                  source="synthetic"))
        return tasks, U


def make_synthetic_tasks(
    num_tasks: int = 30,
    feat_dim: int = 16,
    num_classes: Sequence[int] = (3, 8),
    samples_per_class: int = 6,
    cells_per_task: int = 20,
    latent_dim: int = 4,
    noise: float = 0.3,
    splits: Sequence[float] = (0.6, 0.2, 0.2),
    seed: int = 0,
) -> list[TaskData]:
    """A synthetic ``list[TaskData]`` (see the module docstring); deterministic in ``seed``."""
    world = SyntheticWorld(feat_dim, latent_dim, seed)
    return world.make_tasks(num_tasks, tuple(num_classes), samples_per_class, cells_per_task, noise, tuple(splits))[0]
