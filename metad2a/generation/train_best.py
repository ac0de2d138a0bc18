"""``train_best=true``: train the top ranked cells on the user's own images with a recipe.

The images are loaded again at the recipe's resolution, ``train_per_class + test_per_class``
per class (before the ranking, so that too few images stop the run early), and split per class
with a seed (classes too small for that are split in the same ratio, with a warning). Each cell
is trained with ``metad2a.recipe.train_cell`` and scored on the held-out images.
"""

from __future__ import annotations

from typing import Sequence

from tqdm.auto import tqdm

from metad2a.data.decode import DEFAULT_MAX_PIXELS
from metad2a.data.imageset import ImageSet
from metad2a.data.load import load_images
from metad2a.data.sampling import split_per_class
from metad2a.errors import DataError
from metad2a.generation.report import TrainedCell
from metad2a.recipe import Recipe, recipe_hash, train_cell


def load_train_images(data: str, recipe: Recipe, data_format: str = "auto", seed: int = 0,
                      max_pixels: int = DEFAULT_MAX_PIXELS, progress: bool = True) -> ImageSet:
    """``data`` at the recipe's resolution, ``train_per_class + test_per_class`` per class.

    Raises DataError when a class has fewer than 2 usable images (one to train, one to test):
    generate.py calls this before ranking, so the run stops before the slow part.
    """
    images = load_images(data, format=data_format, size=recipe.resolution,
                         max_per_class=recipe.train_per_class + recipe.test_per_class, seed=seed,
                         max_pixels=max_pixels, progress=progress)
    counts = images.class_counts()
    if counts.min() < 2:
        small = [images.class_names[c] for c in range(images.num_classes) if counts[c] < 2]
        raise DataError(f"train_best needs at least 2 images per class (1 to train, 1 to test); "
                        f"{', '.join(small[:5])} {'has' if len(small) == 1 else 'have'} fewer: add images "
                        "or set train_best=false")
    return images


def train_top_cells(archs: Sequence[str], data: str | ImageSet, recipe: Recipe, data_format: str = "auto",
                    seed: int = 0, max_pixels: int = DEFAULT_MAX_PIXELS,
                    progress: bool = True) -> tuple[list[TrainedCell], dict]:
    """Train each of ``archs`` on ``data`` (a path, or ``load_train_images``' result); returns one
    TrainedCell per arch (same order) and the split info {recipe, recipe_hash, train_images, test_images, seed}.
    """
    images = data if isinstance(data, ImageSet) else load_train_images(data, recipe, data_format, seed, max_pixels,
                                                                       progress)
    train, test = split_per_class(images.labels, recipe.train_per_class, recipe.test_per_class, seed)
    out = []
    for arch in tqdm(archs, desc=f"training top cells ({recipe.name})", unit="cell", leave=False,
                     disable=True if not progress else None):
        rec = train_cell(arch, images.images[train], images.labels[train], images.images[test], images.labels[test],
                         images.num_classes, recipe, seed=seed)
        out.append(TrainedCell(arch, round(float(rec["target"]), 3), round(float(rec["final_acc"]), 3),
                               round(float(rec["wall_s"]), 3)))
    info = {"recipe": recipe.name, "recipe_hash": recipe_hash(recipe), "train_images": int(len(train)),
            "test_images": int(len(test)), "seed": int(seed)}
    return out, info
