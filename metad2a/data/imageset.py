"""ImageSet: a labelled batch of same-size RGB images plus what was skipped while loading it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np


@dataclass
class ImageSet:
    """Images decoded to one square size, with integer labels.

    images:      (N, H, W, 3) uint8 RGB, H == W == the requested size
    labels:      (N,) int64 in ``0..len(class_names)-1``
    class_names: class names in label order
    n_corrupt:   files with an image suffix that could not be decoded (skipped)
    n_non_image: files without an image suffix found in class folders (skipped)
    n_too_large: images above the pixel guard (skipped)
    warnings:    the one-line warnings raised while loading, for reports
    source:      where the images came from (a path), for provenance
    n_linked:    symbolic links found in the folder (never followed, skipped)
    n_special:   named pipes, sockets and devices found in the folder (never opened, skipped)
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    n_corrupt: int = 0
    n_non_image: int = 0
    n_too_large: int = 0
    warnings: list[str] = field(default_factory=list)
    source: str = ""
    n_linked: int = 0
    n_special: int = 0

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.shape[-1] != 3 or self.images.dtype != np.uint8:
            raise ValueError(f"ImageSet.images must be (N, H, W, 3) uint8, got {self.images.shape} {self.images.dtype}")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(f"ImageSet.labels must be ({self.images.shape[0]},), got {self.labels.shape}")
        self.labels = self.labels.astype(np.int64, copy=False)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def size(self) -> int:
        return int(self.images.shape[1])

    def class_counts(self) -> np.ndarray:
        """(num_classes,) int64 number of images per class."""
        return np.bincount(self.labels, minlength=self.num_classes)

    def subset(self, indices: np.ndarray) -> "ImageSet":
        """The images at ``indices`` (all classes kept, so labels keep their meaning)."""
        idx = np.asarray(indices, dtype=np.int64)
        return ImageSet(
            self.images[idx], self.labels[idx], list(self.class_names),
            self.n_corrupt, self.n_non_image, self.n_too_large, list(self.warnings), self.source,
            self.n_linked, self.n_special,
        )

    def fingerprint(self) -> str:
        """sha1 over images, labels and class names: identifies the exact data for provenance."""
        h = hashlib.sha1()
        h.update(repr((self.images.shape, self.class_names)).encode())
        h.update(np.ascontiguousarray(self.images).data)
        h.update(np.ascontiguousarray(self.labels).data)
        return h.hexdigest()
