"""The built-in example dataset: scikit-learn's handwritten digits as an image folder.

It ships inside scikit-learn, so ``python generate.py`` works with no network and no data.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

EXAMPLE_NAME = "sklearn-digits"


def cache_dir() -> Path:
    """``$METAD2A_CACHE`` or ``~/.cache/metad2a``."""
    return Path(os.environ.get("METAD2A_CACHE") or Path.home() / ".cache" / "metad2a")


def example_folder(root: str | os.PathLike | None = None, upscale: int = 4) -> Path:
    """Write the 1,797 8x8 digits (10 classes) as ``<root>/<digit>/<i>.png`` once; return root.

    Images are upscaled ``upscale`` times (nearest) to 32x32 so they look like a normal small
    image dataset. The folder is built in a temp dir and renamed into place, so a crash never
    leaves a half-written example.
    """
    root = Path(root) if root else cache_dir() / "examples" / EXAMPLE_NAME
    if (root / ".complete").exists():
        return root
    from PIL import Image
    from sklearn.datasets import load_digits  # ~1 s to import: only when the folder must be written

    digits = load_digits()
    # 0..16 grey levels -> 0..255
    images = (digits.images * (255.0 / 16.0)).round().astype(np.uint8)
    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        for i, (img, label) in enumerate(zip(images, digits.target)):
            d = tmp / str(label)
            d.mkdir(exist_ok=True)
            big = np.kron(img, np.ones((upscale, upscale), dtype=np.uint8))
            Image.fromarray(big, mode="L").save(d / f"{i:04d}.png")
        (tmp / ".complete").write_text("sklearn digits, 10 classes\n")
        if root.exists():
            shutil.rmtree(root)
        os.replace(tmp, root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return root
