"""Load an ImageFolder layout (``root/<class>/**/*.jpg``, or ``root/train/<class>``) into an ImageSet.

Scanning (paths only) and decoding are separate so callers can sample before decoding:
``scan_image_folder`` is the lazy view, ``load_image_folder`` decodes what it needs.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm.auto import tqdm

from metad2a.data.decode import DEFAULT_MAX_PIXELS, CorruptImage, ImageTooLarge, decode_image, is_image_file
from metad2a.data.imageset import ImageSet
from metad2a.data.paths import check_data_path
from metad2a.data.sampling import per_class_budget
from metad2a.errors import DataError

log = logging.getLogger(__name__)

# Show a progress bar only for loads long enough to notice.
_PROGRESS_MIN_FILES = 2000


@dataclass
class FolderIndex:
    """The files of an image folder, not yet decoded.

    paths[c]:    sorted image paths of class ``c`` (class order = class_names order)
    n_non_image: regular files without an image suffix that were ignored
    n_linked:    symbolic links that were not followed (files or folders)
    n_special:   named pipes, sockets and devices that were not opened
    """

    root: Path
    class_names: list[str]
    paths: list[list[Path]]
    n_non_image: int = 0
    empty_classes: list[str] = field(default_factory=list)
    n_linked: int = 0
    n_special: int = 0


def resolve_folder_root(root: str | os.PathLike) -> Path:
    """Return the folder holding the class sub-folders: ``root/train`` if present, else ``root``.

    ``root`` itself may be a symbolic link (it is the user's choice of tree); ``root/train``
    is used only when it is a real folder inside that tree.
    """
    p = check_data_path(root, "a folder with one sub-folder of images per class")
    if not p.is_dir():
        raise DataError(f"{p} is a file, not a folder: pass a folder with one sub-folder per class, or set the format (idx/npz)")
    train = p / "train"
    return train if train.is_dir() and not train.is_symlink() else p


def _visible(name: str) -> bool:
    # Hidden files (.DS_Store, AppleDouble ._x.jpg) are OS metadata, not data.
    return not name.startswith(".")


def _entries(folder: Path) -> list[os.DirEntry]:
    """The visible entries of ``folder``, sorted by name; DataError if it cannot be listed."""
    try:
        with os.scandir(folder) as it:
            return sorted((e for e in it if _visible(e.name)), key=lambda e: e.name)
    except OSError as e:
        raise DataError(f"cannot list {folder} ({e.strerror or e}): check its permissions") from None


@dataclass
class _Tally:
    n_non_image: int = 0
    n_linked: int = 0
    n_special: int = 0


def _kind(entry: os.DirEntry, tally: _Tally) -> str | None:
    """"dir" or "file" for a real folder or regular file; counts (and drops) links and special files.

    Links are never followed: one pointing out of the tree would pull in foreign files, one
    pointing back in (``ln -s . all``) would count images twice or loop forever.
    """
    if entry.is_symlink():
        tally.n_linked += 1
        return None
    if entry.is_dir(follow_symlinks=False):
        return "dir"
    if entry.is_file(follow_symlinks=False):
        return "file"
    tally.n_special += 1  # a FIFO would block the decoder forever; devices and sockets are not images
    return None


def _class_files(folder: Path, tally: _Tally) -> list[Path]:
    """Image files under ``folder`` (recursive, real folders only), sorted."""
    files = []
    for e in _entries(folder):
        kind = _kind(e, tally)
        if kind == "dir":
            files += _class_files(Path(e.path), tally)
        elif kind == "file":
            if is_image_file(e.name):
                files.append(Path(e.path))
            else:
                tally.n_non_image += 1
    return sorted(files)


def scan_image_folder(root: str | os.PathLike) -> FolderIndex:
    """List the image files per class under ``root`` (recursively within each class folder).

    Only real folders and regular files count: symbolic links, named pipes, sockets and
    devices are skipped and counted. Raises DataError for a missing folder, a folder without
    class sub-folders, or fewer than two classes with image files.
    """
    base = resolve_folder_root(root)
    tally, class_dirs, loose = _Tally(), [], 0
    for e in _entries(base):
        kind = _kind(e, tally)
        if kind == "dir":
            class_dirs.append(Path(e.path))
        elif kind == "file" and is_image_file(e.name):
            loose += 1
    if not class_dirs:
        hint = f" ({loose} images lie directly in it)" if loose else ""
        if tally.n_linked:
            hint += (f" ({tally.n_linked} symbolic links not followed: copy the class folders in, "
                     "or pass the folder the links point to)")
        raise DataError(f"no class sub-folders in {base}{hint}: put images in {base}/<class_name>/*.jpg, one folder per class")
    names, paths, empty = [], [], []
    for d in class_dirs:
        files = _class_files(d, tally)
        if files:
            names.append(d.name)
            paths.append(files)
        else:
            empty.append(d.name)
    _check_classes(names, base)
    return FolderIndex(base, names, paths, tally.n_non_image, empty, tally.n_linked, tally.n_special)


def _check_classes(names: Sequence[str], where: Path | str) -> None:
    if not names:
        raise DataError(f"no images found in {where}: expected {where}/<class_name>/*.jpg|png, one folder per class")
    if len(names) == 1:
        raise DataError(f"only one class ({names[0]!r}) in {where}: a dataset needs at least 2 class folders")


def decode_per_class(
    paths: Sequence[Sequence[Path]],
    size: int,
    max_per_class: int | None = None,
    seed: int = 0,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: bool = True,
) -> tuple[list[np.ndarray], dict[str, int]]:
    """Decode up to ``max_per_class`` images per class, replacing undecodable files with others.

    paths[c]: candidate files of class ``c``. With ``max_per_class`` the files are visited in a
    seeded random order until enough decode. Returns per class a (n_c, size, size, 3) uint8 array
    (n_c may be 0) and the counts {"corrupt", "too_large"} of skipped files.
    """
    rng = np.random.default_rng(seed)
    orders = []
    for files in paths:
        order = rng.permutation(len(files)) if max_per_class is not None else np.arange(len(files))
        orders.append(order)
    total = sum(len(f) if max_per_class is None else min(len(f), max_per_class) for f in paths)
    bar = tqdm(total=total, desc="loading images", unit="img", leave=False,
               disable=True if not progress or total < _PROGRESS_MIN_FILES else None)
    counts = {"corrupt": 0, "too_large": 0}
    out = []
    for files, order in zip(paths, orders):
        want = len(files) if max_per_class is None else max_per_class
        arrays = []
        for i in order:
            if len(arrays) >= want:
                break
            try:
                arrays.append(decode_image(files[i], size, max_pixels))
                bar.update(1)
            except CorruptImage:
                counts["corrupt"] += 1
            except ImageTooLarge:
                counts["too_large"] += 1
        out.append(np.stack(arrays) if arrays else np.zeros((0, size, size, 3), dtype=np.uint8))
    bar.close()
    return out, counts


def assemble(
    per_class: Sequence[np.ndarray],
    class_names: Sequence[str],
    counts: dict[str, int],
    n_non_image: int,
    source: str,
    max_per_class: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    empty_classes: Sequence[str] = (),
    n_linked: int = 0,
    n_special: int = 0,
) -> ImageSet:
    """Stack decoded classes into an ImageSet, dropping classes left empty and warning once per issue."""
    notes = []
    if empty_classes:
        notes.append(f"skipped {len(empty_classes)} class folders with no images: {', '.join(empty_classes[:10])}")
    if n_non_image:
        notes.append(f"skipped {n_non_image} non-image files")
    if n_linked:
        notes.append(f"skipped {n_linked} symbolic links (never followed, so no image is read twice or from outside "
                     "the folder): copy the files in if they belong to the dataset")
    if n_special:
        notes.append(f"skipped {n_special} named pipes, sockets or devices (not regular files)")
    if counts.get("corrupt"):
        notes.append(f"skipped {counts['corrupt']} corrupt or unreadable image files")
    if counts.get("too_large"):
        notes.append(f"skipped {counts['too_large']} images larger than {max_pixels / 1e6:.0f} megapixels "
                     f"(downscale them, or raise max_pixels)")
    keep = [c for c, a in enumerate(per_class) if len(a)]
    if len(keep) < len(per_class):
        lost = [class_names[c] for c in range(len(per_class)) if c not in keep]
        notes.append(f"dropped {len(lost)} classes with no readable images: {', '.join(lost[:10])}")
    if max_per_class is not None:
        short = [f"{class_names[c]}:{len(per_class[c])}" for c in keep if len(per_class[c]) < max_per_class]
        if short:
            notes.append(f"{len(short)} classes have fewer than {max_per_class} images "
                         f"({', '.join(short[:10])}); using what there is")
    for n in notes:
        log.warning(n)
    names = [class_names[c] for c in keep]
    if not names:
        raise DataError(f"no readable images in {source} ({counts.get('corrupt', 0)} corrupt, "
                        f"{counts.get('too_large', 0)} too large, {n_non_image} non-image files): check the files")
    _check_classes(names, source)
    images = np.concatenate([per_class[c] for c in keep])
    labels = np.concatenate([np.full(len(per_class[c]), i, dtype=np.int64) for i, c in enumerate(keep)])
    return ImageSet(images, labels, names, counts.get("corrupt", 0), n_non_image,
                    counts.get("too_large", 0), notes, source, n_linked, n_special)


def load_image_folder(
    root: str | os.PathLike,
    size: int = 64,
    max_per_class: int | None = None,
    seed: int = 0,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: bool = True,
    max_images: int | None = None,
    min_per_class: int = 1,
) -> ImageSet:
    """Load ``root/<class>/**/*.{jpg,jpeg,png,bmp,gif,webp,tif}`` (or ``root/train/<class>``).

    Every image becomes (size, size, 3) uint8 RGB (shorter side resized, centre crop).
    ``max_per_class`` draws that many images per class with ``seed`` (fewer if a class has
    fewer: warned); ``max_images`` caps the total (``sampling.per_class_budget``). Corrupt, non-image and over-``max_pixels`` files, symbolic links, named pipes,
    sockets and devices are skipped and counted.
    Raises DataError for a missing or empty folder, or fewer than two usable classes.
    """
    if size < 1:
        raise DataError(f"image size must be >= 1, got {size}")
    index = scan_image_folder(root)
    if max_per_class is not None:
        max_per_class = per_class_budget(len(index.class_names), max_per_class, max_images, min_per_class)
    per_class, counts = decode_per_class(index.paths, size, max_per_class, seed, max_pixels, progress)
    return assemble(per_class, index.class_names, counts, index.n_non_image, str(index.root),
                    max_per_class, max_pixels, index.empty_classes, index.n_linked, index.n_special)
