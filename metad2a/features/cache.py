"""On-disk cache of feature arrays keyed by (extractor, resolution, image fingerprint).

Layout: ``<dir>/<extractor>/r<resolution>/<sha1 of the images>.npy``. Files are written to a
temporary name and renamed with ``os.replace``, so readers never see a partial file, even with
concurrent writers or a crash mid-write.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

ENV_VAR = "METAD2A_CACHE"


def default_cache_dir() -> Path:
    """``$METAD2A_CACHE/features`` if the variable is set, else ``~/.cache/metad2a/features``."""
    root = os.environ.get(ENV_VAR)
    return (Path(root).expanduser() if root else Path.home() / ".cache" / "metad2a") / "features"


def image_fingerprint(images: np.ndarray) -> str:
    """sha1 (hex) of a whole image batch: its shape, dtype and bytes. images: (N, H, W, 3) uint8."""
    h = hashlib.sha1(repr((images.shape, str(images.dtype))).encode())
    h.update(np.ascontiguousarray(images).data)
    return h.hexdigest()


class FeatureCache:
    """Stores one (N, D) float32 array per (extractor, resolution, image batch)."""

    def __init__(self, directory: str | os.PathLike | None = None):
        self.directory = Path(directory).expanduser() if directory is not None else default_cache_dir()

    def path(self, extractor: str, resolution: int, fingerprint: str) -> Path:
        return self.directory / extractor / f"r{resolution}" / f"{fingerprint}.npy"

    def get(self, extractor: str, resolution: int, fingerprint: str, n: int | None = None) -> np.ndarray | None:
        """The cached array, or None when absent or unreadable (a damaged entry counts as a miss)."""
        p = self.path(extractor, resolution, fingerprint)
        try:
            arr = np.load(p, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None
        if arr.ndim != 2 or (n is not None and arr.shape[0] != n):
            return None
        return arr

    def put(self, extractor: str, resolution: int, fingerprint: str, features: np.ndarray) -> Path:
        """Write ``features`` (N, D) atomically; returns the final path."""
        p = self.path(extractor, resolution, fingerprint)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.stem}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, np.ascontiguousarray(features, dtype=np.float32), allow_pickle=False)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return p
