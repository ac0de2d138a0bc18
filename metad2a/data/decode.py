"""Decode one image file into a square uint8 RGB array, whatever its mode or size.

Handles grayscale, RGBA/LA (composited on white), palette, CMYK, 16-bit and float images,
EXIF rotation, and very large images (reduced while decoding via ``Image.draft`` for JPEG,
refused above ``max_pixels`` otherwise).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

# Suffixes we try to decode; anything else in a class folder counts as a non-image file.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})

# Larger (after JPEG draft reduction) images are skipped: decoding them would need gigabytes.
DEFAULT_MAX_PIXELS = 64_000_000


class CorruptImage(Exception):
    """The file has an image suffix but cannot be decoded (internal; callers count these)."""


class ImageTooLarge(Exception):
    """The image exceeds the pixel guard even after draft reduction (internal; callers count these)."""


def is_image_file(path: str | os.PathLike) -> bool:
    return os.path.splitext(str(path))[1].lower() in IMAGE_EXTENSIONS


def to_rgb(img: Image.Image) -> Image.Image:
    """Return ``img`` as 8-bit RGB; alpha is composited on white so transparent areas are not black."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return Image.fromarray(_scale_to_uint8(np.asarray(img), mode), mode="L").convert("RGB")
    if mode == "P" or mode == "PA":
        # Palette images may carry transparency in info; RGBA keeps it for compositing.
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


def _scale_to_uint8(a: np.ndarray, mode: str) -> np.ndarray:
    """A high-bit-depth single-channel image -> 0..255, by its mode's range, never by its own maximum.

    ``I;16*`` and ``I`` (how PIL opens 16-bit PNG/TIFF) map 65535 to 255, so a dark and a bright
    16-bit image keep their difference; ``F`` maps [0, 1] to [0, 255] when it fits in [0, 1] and
    is clipped to [0, 255] otherwise. NaN or infinite pixels make the file unusable (CorruptImage).
    """
    a = a.astype(np.float64)
    if mode == "F":
        if not np.isfinite(a).all():
            raise CorruptImage("NaN or infinite pixels")
        if a.size and a.max() <= 1.0:
            a = a * 255.0
    else:
        a = a * (255.0 / 65535.0)
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def fit_square(img: Image.Image, size: int) -> Image.Image:
    """Resize the shorter side to ``size`` and centre-crop to ``size x size`` (keeps aspect ratio)."""
    w, h = img.size
    if (w, h) == (size, size):
        return img
    s = min(w, h)
    box = ((w - s) / 2, (h - s) / 2, (w + s) / 2, (h + s) / 2)
    # reducing_gap: shrink by whole factors first (fast, still antialiased) for big photos.
    return img.resize((size, size), Image.Resampling.BICUBIC, box=box, reducing_gap=3.0)


def decode_image(path: str | os.PathLike, size: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode ``path`` into a (size, size, 3) uint8 RGB array.

    Raises CorruptImage when the file cannot be decoded and ImageTooLarge when it has more than
    ``max_pixels`` pixels even after JPEG draft reduction.
    """
    try:
        with warnings.catch_warnings():
            # Our own max_pixels guard replaces PIL's decompression-bomb warning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                # JPEG can decode at 1/2, 1/4 or 1/8 scale: cheap downsizing of huge photos.
                img.draft("RGB", (size, size))
                w, h = img.size
                if w * h > max_pixels:
                    raise ImageTooLarge(f"{w}x{h}")
                img = ImageOps.exif_transpose(img) or img
                img = to_rgb(img)
                return np.asarray(fit_square(img, size), dtype=np.uint8)
    except Image.DecompressionBombError as e:
        raise ImageTooLarge(str(e)) from e
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as e:
        raise CorruptImage(str(e)) from e


def resize_batch(images: np.ndarray, size: int, chunk: int = 1024) -> np.ndarray:
    """Centre-crop to square and resize a (N, H, W, 3) uint8 batch to (N, size, size, 3) uint8."""
    n, h, w, _ = images.shape
    if h == size and w == size:
        return images
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    out = np.empty((n, size, size, 3), dtype=np.uint8)
    for i in range(0, n, chunk):
        x = torch.from_numpy(np.ascontiguousarray(images[i : i + chunk, top : top + s, left : left + s]))
        x = x.permute(0, 3, 1, 2).float()
        # antialias matters when shrinking; bilinear is enough for the small upsampling (28 -> 32).
        y = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out[i : i + chunk] = y.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return out
