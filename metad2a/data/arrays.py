"""Image sets stored as arrays: MNIST-style idx(.gz) files and .npz archives."""

from __future__ import annotations

import gzip
import os
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from metad2a.data.decode import resize_batch
from metad2a.data.imageset import ImageSet
from metad2a.data.paths import check_data_path
from metad2a.data.sampling import per_class_budget, sample_per_class
from metad2a.errors import DataError

# idx type byte -> big-endian numpy dtype (http://yann.lecun.com/exdb/mnist/ file format).
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_NPZ_IMAGE_KEYS = ("x", "images", "X", "x_train", "data")
_NPZ_LABEL_KEYS = ("y", "labels", "Y", "y_train", "targets")


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one idx or idx.gz file into a native-endian array of its stored shape."""
    p = check_data_path(path, "the path of an *-idx3-ubyte(.gz) / *-idx1-ubyte(.gz) file")
    if not p.is_file():
        raise DataError(f"{p} is a folder, not an idx file: pass the *-idx3-ubyte(.gz) or *-idx1-ubyte(.gz) "
                        "file itself")
    raw = p.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the suffix says
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise DataError(f"{p} is a damaged gzip file ({e}): download it again") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(f"{p} is not an idx file (bad magic number): expected MNIST-style idx data")
    ndim = raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw[4:header], dtype=">u4"))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    need = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header < need:
        raise DataError(f"{p} is truncated ({len(raw) - header} of {need} data bytes): download it again")
    return np.frombuffer(raw, dtype=dtype, count=int(np.prod(shape)), offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def find_idx_pair(folder: str | os.PathLike) -> tuple[Path, Path]:
    """The (images, labels) idx files in ``folder``; prefers a ``train*`` pair when several exist."""
    d = Path(folder)
    images = sorted(f for f in d.iterdir() if "idx3" in f.name)
    labels = sorted(f for f in d.iterdir() if "idx1" in f.name)
    if not images or not labels:
        raise DataError(f"no idx image/label pair in {d}: expected *-images-idx3-ubyte(.gz) and *-labels-idx1-ubyte(.gz)")
    img = next((f for f in images if f.name.startswith("train")), images[0])
    want = img.name.replace("images", "labels").replace("idx3", "idx1")
    lab = next((f for f in labels if f.name == want), None)
    if lab is None:
        raise DataError(f"no labels file {want} next to {img}: idx images need their matching labels file")
    return img, lab


def check_finite(images: np.ndarray, where: str) -> None:
    """Refuse float images with NaN or infinite pixels (they would silently become black). images: (N, ...)."""
    x = np.asarray(images)
    if x.dtype.kind != "f" or not x.size:
        return
    finite = np.isfinite(x).reshape(len(x), -1).all(axis=1)
    if not finite.all():
        raise DataError(f"{where}: {int((~finite).sum())} of {len(x)} images hold NaN or infinite pixels: "
                        "replace them (numpy.nan_to_num) or drop those images")


def _scale_by_dtype(x: np.ndarray, where: str) -> np.ndarray:
    """Any numeric (N, H, W, C) array -> uint8, with one scale for the whole dtype, never per image.

    bool: 0/255. uint8: as is. Other integers of 1-2 bytes: by their type's range
    (uint16: 65535 -> 255, int16: 32767 -> 255; negatives clip to 0). Wider integers hold no bit
    depth in their type, so their values decide once for the whole array: up to 255 they are
    8-bit, up to 65535 16-bit, above that refused. Floats: [0, 1] scaled by 255, else clipped
    to [0, 255]; NaN or infinite pixels are refused (they would silently become black).
    """
    if x.dtype == np.bool_:
        return x.astype(np.uint8) * np.uint8(255)
    if x.dtype.kind == "f":
        check_finite(x, where)
        xf = x.astype(np.float32)
        if x.size and float(xf.max()) <= 1.0:
            xf = xf * 255.0
    elif x.dtype.itemsize <= 2:
        xf = x.astype(np.float32) * (255.0 / np.iinfo(x.dtype).max)
    else:
        hi = int(x.max()) if x.size else 0
        if hi > 65535:
            raise DataError(f"{where}: {x.dtype} pixel values reach {hi}, more than 16 bits: save the images as "
                            "uint8 (0-255) or uint16 (0-65535)")
        xf = x.astype(np.float32) * (255.0 / 65535.0 if hi > 255 else 1.0)
    return np.clip(np.rint(xf), 0, 255).astype(np.uint8)


def to_uint8_nhwc(images: np.ndarray, where: str = "array") -> np.ndarray:
    """Convert (N,H,W), (N,H,W,C) or (N,C,H,W) images of any numeric dtype to (N,H,W,3) uint8.

    C may be 1 (grey, repeated), 3, or 4 (alpha dropped). Values are scaled by the dtype's
    range (``_scale_by_dtype``): a dark and a bright 16-bit image keep their difference.
    """
    x = np.asarray(images)
    if x.dtype.kind not in "uif" and x.dtype != np.bool_:
        raise DataError(f"{where}: images must be numeric, got dtype {x.dtype}")
    if x.ndim == 3:
        x = x[..., None]
    elif x.ndim == 4:
        if x.shape[-1] not in (1, 3, 4) and x.shape[1] in (1, 3, 4):
            x = x.transpose(0, 2, 3, 1)  # NCHW -> NHWC
        if x.shape[-1] not in (1, 3, 4):
            raise DataError(f"{where}: cannot tell the channel axis of images {x.shape}; use NHW, NHWC or NCHW with 1, 3 or 4 channels")
    else:
        raise DataError(f"{where}: images must be (N,H,W), (N,H,W,C) or (N,C,H,W), got shape {x.shape}")
    if x.shape[-1] == 4:
        x = x[..., :3]
    if x.dtype != np.uint8:
        x = _scale_by_dtype(x, where)
    if x.shape[-1] == 1:
        x = np.repeat(x, 3, axis=-1)
    return np.ascontiguousarray(x)


def from_arrays(
    images: np.ndarray,
    labels: np.ndarray,
    size: int | None = None,
    class_names: Sequence[str] | None = None,
    max_per_class: int | None = None,
    seed: int = 0,
    source: str = "array",
    max_images: int | None = None,
    min_per_class: int = 1,
) -> ImageSet:
    """Build an ImageSet from in-memory arrays (see ``to_uint8_nhwc`` for accepted layouts).

    labels: (N,) of any values; they are mapped to 0..C-1 in sorted order. ``class_names``
    names the sorted distinct labels (default: their string form). ``size=None`` keeps the
    stored size if square (non-square images are centre-cropped to their shorter side).
    ``max_images`` caps the total sample (``sampling.per_class_budget``; needs ``max_per_class``).
    """
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != len(images):
        raise DataError(f"{source}: {len(images)} images but {len(labels)} labels; they must match one to one")
    if len(labels) == 0:
        raise DataError(f"{source}: contains no images")
    values, y = np.unique(labels, return_inverse=True)
    names = [str(v) for v in values] if class_names is None else [str(n) for n in class_names]
    if len(names) != len(values):
        raise DataError(f"{source}: {len(names)} class names for {len(values)} distinct labels")
    if len(values) < 2:
        raise DataError(f"{source}: only one class ({names[0]!r}); a dataset needs at least 2 classes")
    y = y.astype(np.int64)
    check_finite(images, source)  # all of them: whether the file is usable must not depend on the sample
    notes = []
    if max_per_class is not None:
        max_per_class = per_class_budget(len(values), max_per_class, max_images, min_per_class)
        idx = sample_per_class(y, max_per_class, seed)
        counts = np.bincount(y, minlength=len(values))
        short = [f"{names[c]}:{counts[c]}" for c in range(len(values)) if counts[c] < max_per_class]
        if short:
            notes.append(f"{len(short)} classes have fewer than {max_per_class} images ({', '.join(short[:10])}); using what there is")
        images, y = np.asarray(images)[idx], y[idx]
    x = to_uint8_nhwc(images, source)
    h, w = x.shape[1:3]
    target = size if size is not None else min(h, w)
    x = resize_batch(x, target)
    return ImageSet(x, y, names, warnings=notes, source=source)


def load_idx(
    images_path: str | os.PathLike,
    labels_path: str | os.PathLike | None = None,
    size: int | None = None,
    class_names: Sequence[str] | None = None,
    max_per_class: int | None = None,
    seed: int = 0,
    max_images: int | None = None,
    min_per_class: int = 1,
) -> ImageSet:
    """Load MNIST-style idx(.gz) files: images (N, H, W) uint8 and labels (N,).

    ``images_path`` may also be a folder holding the pair (see ``find_idx_pair``).
    ``labels_path=None`` derives it from the images file name (images-idx3 -> labels-idx1).
    Returns (N, size, size, 3) uint8 RGB (grey repeated); ``size=None`` keeps 28x28.
    """
    ip = Path(images_path)
    if ip.is_dir():
        ip, lp = find_idx_pair(ip)
        labels_path = labels_path or lp
    if labels_path is None:
        labels_path = ip.with_name(ip.name.replace("images", "labels").replace("idx3", "idx1"))
    x, y = read_idx(ip), read_idx(labels_path)
    if y.ndim != 1:
        raise DataError(f"{labels_path} holds an array of shape {y.shape}, not labels: pass the *-labels-idx1 file")
    return from_arrays(x, y, size, class_names, max_per_class, seed, source=str(ip), max_images=max_images,
                       min_per_class=min_per_class)


_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first local header, or an empty zip's directory
_NPY_MAGIC = b"\x93NUMPY"
_SAVE_HINT = "save it with numpy.savez(path, x=images, y=labels)"


def _check_npz_header(p: Path) -> None:
    """Refuse a file that is not a zip archive by its first bytes, before numpy guesses at it.

    Without this, ``np.load`` takes any non-zip file for a pickle and suggests loading it unsafely.
    """
    with open(p, "rb") as f:
        head = f.read(len(_NPY_MAGIC))
    if head.startswith(_NPY_MAGIC):
        raise DataError(f"{p} is a single .npy array, not an npz archive: {_SAVE_HINT}")
    if not head.startswith(_ZIP_MAGIC):
        raise DataError(f"{p} is not an npz archive (it is not a zip file): {_SAVE_HINT}")


def load_npz(
    path: str | os.PathLike,
    size: int | None = None,
    max_per_class: int | None = None,
    seed: int = 0,
    max_images: int | None = None,
    min_per_class: int = 1,
) -> ImageSet:
    """Load a .npz with images under ``x``/``images`` and labels under ``y``/``labels``.

    Images may be NHW, NHWC or NCHW, of any numeric dtype; an optional ``class_names`` array
    names the sorted distinct labels. Returns (N, size, size, 3) uint8 images.
    """
    p = check_data_path(path, "a .npz with arrays x (images) and y (labels)")
    if not p.is_file():
        raise DataError(f"{p} is a folder, not an npz archive: pass the .npz file itself")
    _check_npz_header(p)
    try:
        with np.load(p, allow_pickle=False) as z:
            keys = list(z.keys())
            xk = next((k for k in _NPZ_IMAGE_KEYS if k in z), None)
            yk = next((k for k in _NPZ_LABEL_KEYS if k in z), None)
            if xk is None or yk is None:
                raise DataError(f"{p} has arrays {keys}: name the images 'x' (or 'images') and the labels 'y' (or 'labels')")
            x, y = z[xk], z[yk]
            names = [str(n) for n in z["class_names"]] if "class_names" in z else None
    except DataError:
        raise
    except ValueError as e:
        if "allow_pickle" in str(e):  # an object array inside the archive: never unpickled
            raise DataError(f"{p} holds Python objects, not numeric arrays: {_SAVE_HINT} with numeric arrays "
                            "(class names as a string array)") from None
        raise DataError(f"{p} is a damaged npz archive ({e}): {_SAVE_HINT}") from None
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise DataError(f"{p} is a damaged npz archive ({e}): {_SAVE_HINT}") from None
    return from_arrays(x, y, size, names, max_per_class, seed, source=str(p), max_images=max_images,
                       min_per_class=min_per_class)
