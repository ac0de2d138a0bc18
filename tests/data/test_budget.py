"""The total image budget: fewer images per class as classes go up, never below the floor."""

from __future__ import annotations

import numpy as np
import pytest

from metad2a.data import load_images, per_class_budget
from metad2a.errors import DataError


@pytest.mark.parametrize("classes,expected", [(2, 20), (10, 20), (25, 20), (50, 10), (100, 5), (250, 2),
                                              (1000, 2)])
def test_per_class_count_falls_with_classes_down_to_the_floor(classes, expected):
    assert per_class_budget(classes, 20, max_images=500, min_per_class=2) == expected


def test_no_cap_keeps_images_per_class_and_the_floor_never_exceeds_it():
    assert per_class_budget(1000, 20) == 20
    assert per_class_budget(1000, 3, max_images=10, min_per_class=5) == 3


@pytest.mark.parametrize("args", [(0, 20), (10, 0), (10, 20, 0), (10, 20, 500, 0)])
def test_nonsense_budgets_are_refused(args):
    with pytest.raises(DataError):
        per_class_budget(*args)


@pytest.mark.parametrize("classes,per_class", [(10, 20), (100, 5), (1000, 2)])
def test_npz_loader_samples_the_budget_per_class(tmp_path, classes, per_class):
    y = np.repeat(np.arange(classes), 25)
    x = np.random.default_rng(0).integers(0, 255, size=(len(y), 4, 4, 3), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    s = load_images(tmp_path / "d.npz", max_per_class=20, max_images=500, min_per_class=2)
    assert s.num_classes == classes
    assert np.bincount(s.labels).tolist() == [per_class] * classes


def test_folder_loader_samples_the_budget_per_class(tmp_path):
    from PIL import Image

    for c in range(6):
        (tmp_path / f"c{c}").mkdir()
        for j in range(5):
            Image.new("RGB", (8, 8), (40 * c, 10 * j, 0)).save(tmp_path / f"c{c}" / f"{j}.png")
    s = load_images(tmp_path, size=8, max_per_class=20, max_images=12, min_per_class=1)
    assert np.bincount(s.labels).tolist() == [2] * 6
