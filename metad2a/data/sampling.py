"""Class-balanced sampling, a total image budget across classes, and deterministic per-class splits."""

from __future__ import annotations

import logging

import numpy as np

from metad2a.errors import DataError

log = logging.getLogger(__name__)


def _class_indices(labels: np.ndarray) -> list[tuple[int, np.ndarray]]:
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise DataError(f"labels must be a 1-d array, got shape {labels.shape}")
    return [(int(c), np.flatnonzero(labels == c)) for c in np.unique(labels)]


def per_class_budget(num_classes: int, max_per_class: int, max_images: int | None = None,
                     min_per_class: int = 1) -> int:
    """Images to sample per class when at most ``max_images`` are wanted in all (None: no total cap).

    ``min(max_per_class, max(min_per_class, max_images // num_classes))``: few classes keep
    ``max_per_class`` each; many classes share the budget, but never fall below ``min_per_class``
    (so 1,000 classes may exceed ``max_images``: each class still needs a few images to be seen).
    """
    if num_classes < 1 or max_per_class < 1 or min_per_class < 1:
        raise DataError(f"classes, images per class and the per-class floor must be >= 1, got {num_classes}, "
                        f"{max_per_class} and {min_per_class}")
    if max_images is None:
        return max_per_class
    if max_images < 1:
        raise DataError(f"the total image budget must be >= 1 (or None for no cap), got {max_images}")
    return min(max_per_class, max(min_per_class, max_images // num_classes))


def sample_per_class(labels: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Indices of up to ``k`` images per class, drawn without replacement.

    labels: (N,) int. Returns (M,) int64 indices grouped by class in ascending label order,
    ascending within a class; M = sum over classes of min(k, count). Classes with fewer than
    ``k`` images give all they have (a warning is logged).
    """
    if k < 1:
        raise DataError(f"images per class must be >= 1, got {k}")
    rng = np.random.default_rng(seed)
    out, short = [], []
    for c, idx in _class_indices(labels):
        if len(idx) < k:
            short.append(f"{c}:{len(idx)}")
            out.append(idx)
        else:
            out.append(np.sort(rng.choice(idx, size=k, replace=False)))
    if short:
        log.warning("%d classes have fewer than %d images (label:count %s); using what there is",
                    len(short), k, ", ".join(short[:10]))
    return np.concatenate(out).astype(np.int64) if out else np.zeros(0, dtype=np.int64)


def split_per_class(
    labels: np.ndarray, n_train: int, n_test: int | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic per-class split into disjoint (train, test) index arrays.

    labels: (N,) int. Each class gives ``n_train`` train and ``n_test`` test images
    (``n_test=None``: all the rest). A class too small for both keeps the same train:test
    ratio with at least one image on each side (a warning is logged); a class with a single
    image cannot be split and raises DataError. Returns two int64 arrays, sorted ascending.
    """
    if n_train < 1 or (n_test is not None and n_test < 1):
        raise DataError(f"n_train and n_test must be >= 1, got {n_train} and {n_test}")
    rng = np.random.default_rng(seed)
    train, test, short = [], [], []
    for c, idx in _class_indices(labels):
        n = len(idx)
        if n < 2:
            raise DataError(f"class {c} has {n} image(s): each class needs at least 2 to split into train and test")
        perm = rng.permutation(idx)
        want = n_train + (n_test if n_test is not None else 1)
        if n >= want:
            a, b = n_train, (n_test if n_test is not None else n - n_train)
        else:
            short.append(f"{c}:{n}")
            ratio = n_train / (n_train + (n_test if n_test is not None else n_train))
            a = min(max(1, int(round(n * ratio))), n - 1)
            b = n - a
        train.append(perm[:a])
        test.append(perm[a : a + b])
    if short:
        log.warning("%d classes have fewer than %d+%s images (label:count %s); split them proportionally",
                    len(short), n_train, n_test, ", ".join(short[:10]))
    return np.sort(np.concatenate(train)).astype(np.int64), np.sort(np.concatenate(test)).astype(np.int64)
