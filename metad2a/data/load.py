"""One entry point for every image source: ``load_images(path, format="auto", size=...)``."""

from __future__ import annotations

import os

from metad2a.data.arrays import load_idx, load_npz
from metad2a.data.decode import DEFAULT_MAX_PIXELS
from metad2a.data.images import load_image_folder
from metad2a.data.imageset import ImageSet
from metad2a.data.paths import check_data_path
from metad2a.errors import DataError

FORMATS = ("auto", "folder", "idx", "npz")


def detect_format(path: str | os.PathLike) -> str:
    """"npz" for a .npz file, "idx" for an idx file or a folder holding idx files, else "folder"."""
    p = check_data_path(path)
    if p.is_file():
        if p.suffix.lower() == ".npz":
            return "npz"
        if "idx" in p.name:
            return "idx"
        raise DataError(f"cannot tell the format of file {p}: pass a folder of class sub-folders, a .npz, or an idx file")
    if any("idx3" in f.name for f in p.iterdir() if f.is_file()):
        return "idx"
    return "folder"


def load_images(
    path: str | os.PathLike,
    format: str = "auto",
    size: int | None = None,
    max_per_class: int | None = None,
    seed: int = 0,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: bool = True,
    max_images: int | None = None,
    min_per_class: int = 1,
) -> ImageSet:
    """Load an image dataset as an ImageSet of (N, size, size, 3) uint8 images.

    ``size=None`` keeps the stored size of idx/npz arrays and uses 64 for image folders.
    format: "folder" (``path/<class>/*.jpg`` or ``path/train/<class>``), "idx" (an idx images
    file or a folder with an idx pair), "npz", or "auto" to detect from ``path``.
    ``max_per_class`` samples that many images per class with ``seed``; with ``max_images`` too,
    many-class datasets get fewer per class, at least ``min_per_class`` (``sampling.per_class_budget``).
    """
    if format not in FORMATS:
        raise DataError(f"unknown data format {format!r}: use one of {', '.join(FORMATS)}")
    fmt = detect_format(path) if format == "auto" else format
    if fmt == "folder":
        return load_image_folder(path, size or 64, max_per_class, seed, max_pixels, progress, max_images, min_per_class)
    budget = {"max_per_class": max_per_class, "seed": seed, "max_images": max_images, "min_per_class": min_per_class}
    if fmt == "idx":
        return load_idx(path, size=size, **budget)
    return load_npz(path, size=size, **budget)
