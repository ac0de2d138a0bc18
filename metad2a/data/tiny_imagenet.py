"""Tiny-ImageNet in its standard layout: ``wnids.txt``, ``words.txt``,
``train/<wnid>/images/*.JPEG``, ``val/images/*.JPEG`` with ``val/val_annotations.txt``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from metad2a.data.images import assemble, decode_per_class
from metad2a.data.imageset import ImageSet
from metad2a.errors import DataError
from metad2a.shared_data import shared_file

SHARED_RELATIVE = "images/tiny-imagenet-200"


def tiny_imagenet_root(root: str | os.PathLike | None = None) -> Path:
    """``root`` if given, else the shared copy (``<shared data>/images/tiny-imagenet-200``)."""
    p = Path(root).expanduser() if root is not None else shared_file(SHARED_RELATIVE)
    if not (p / "wnids.txt").is_file():
        raise DataError(f"{p} is not a Tiny-ImageNet folder (no wnids.txt): pass the tiny-imagenet-200 directory")
    return p


def tiny_imagenet_classes(root: str | os.PathLike | None = None) -> list[str]:
    """The wnids in ``wnids.txt`` order (label order when ``classes=None``)."""
    text = (tiny_imagenet_root(root) / "wnids.txt").read_text()
    return [w.strip() for w in text.splitlines() if w.strip()]


def tiny_imagenet_words(root: str | os.PathLike | None = None) -> dict[str, str]:
    """wnid -> human-readable synonyms ("goldfish, Carassius auratus") from ``words.txt``."""
    out = {}
    for line in (tiny_imagenet_root(root) / "words.txt").read_text().splitlines():
        wnid, _, words = line.partition("\t")
        if wnid:
            out[wnid.strip()] = words.strip()
    return out


def tiny_imagenet_files(
    root: str | os.PathLike | None = None, split: str = "train", classes: Sequence[str] | None = None
) -> tuple[list[str], list[list[Path]]]:
    """(wnids, paths per wnid) for ``split`` without decoding anything (the lazy view)."""
    base = tiny_imagenet_root(root)
    all_wnids = tiny_imagenet_classes(base)
    wnids = list(all_wnids if classes is None else classes)
    unknown = sorted(set(wnids) - set(all_wnids))
    if unknown:
        raise DataError(f"unknown Tiny-ImageNet classes {unknown[:5]}: pick wnids from {base / 'wnids.txt'}")
    if len(set(wnids)) != len(wnids):
        raise DataError("Tiny-ImageNet classes contain duplicates: pass each wnid once")
    if split == "train":
        paths = [sorted((base / "train" / w / "images").glob("*.JPEG")) for w in wnids]
    elif split == "val":
        ann = base / "val" / "val_annotations.txt"
        if not ann.is_file():
            raise DataError(f"missing {ann}: the Tiny-ImageNet val split needs val_annotations.txt")
        pos = {w: i for i, w in enumerate(wnids)}
        paths = [[] for _ in wnids]
        for line in ann.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) >= 2 and parts[1] in pos:
                paths[pos[parts[1]]].append(base / "val" / "images" / parts[0])
        paths = [sorted(p) for p in paths]
    else:
        raise DataError(f"unknown Tiny-ImageNet split {split!r}: use 'train' or 'val'")
    return wnids, paths


def load_tiny_imagenet(
    root: str | os.PathLike | None = None,
    split: str = "train",
    classes: Sequence[str] | None = None,
    max_per_class: int | None = None,
    size: int = 64,
    seed: int = 0,
    progress: bool = True,
) -> ImageSet:
    """Load a Tiny-ImageNet split as an ImageSet with labels in ``classes`` order.

    root:    the tiny-imagenet-200 folder (default: the shared copy)
    classes: wnids to load (default: all, in wnids.txt order); class_names are the wnids
    size:    output side in pixels (the files are 64x64; other sizes are resized)
    Returns images (N, size, size, 3) uint8 and labels (N,) int64.
    """
    wnids, paths = tiny_imagenet_files(root, split, classes)
    per_class, counts = decode_per_class(paths, size, max_per_class, seed, progress=progress)
    source = str(tiny_imagenet_root(root) / split)
    return assemble(per_class, wnids, counts, 0, source, max_per_class)
