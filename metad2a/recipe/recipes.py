"""Cell-training recipes: frozen, versioned, hashed, so every record says how it was made.

``MINI`` is the CPU recipe chosen by measurement (see docs/recipe.md and
bench/recipe_probe.py); ``FULL`` is the NAS-Bench-201 recipe for GPU users.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace

from metad2a.errors import MetaD2AError


class RecipeError(MetaD2AError, ValueError):
    """A recipe is unknown or has an invalid field."""


@dataclass(frozen=True)
class Recipe:
    """How one cell is trained and scored on one task.

    Data: ``train_per_class`` / ``test_per_class`` images per class at ``resolution``x``resolution``.
    Model: the NB201 macro network with ``C`` stem channels and ``N`` cells per stage.
    Optimiser: SGD (momentum, nesterov, weight decay) with a ``schedule`` of the learning rate
    per step ("cosine" to 0, after ``warmup_epochs`` of linear warm-up; or "constant").
    Target: ``target="mean_last_k"`` is the mean test accuracy (%) over the last
    ``target_last_k`` epochs, which averages out epoch-to-epoch SGD noise; ``"final"`` is the
    last epoch's test accuracy.
    """

    name: str
    version: int
    C: int
    N: int
    resolution: int
    epochs: int
    batch_size: int
    lr: float
    momentum: float
    nesterov: bool
    weight_decay: float
    schedule: str = "cosine"
    warmup_epochs: int = 0
    label_smoothing: float = 0.0
    augment: str = "flip_crop"
    train_per_class: int = 150
    test_per_class: int = 50
    target: str = "mean_last_k"
    target_last_k: int = 1

    def __post_init__(self) -> None:
        if self.schedule not in ("cosine", "constant"):
            raise RecipeError(f"recipe {self.name}: schedule must be 'cosine' or 'constant', got {self.schedule!r}")
        if self.augment not in ("none", "flip", "flip_crop"):
            raise RecipeError(f"recipe {self.name}: augment must be none|flip|flip_crop, got {self.augment!r}")
        if self.target not in ("final", "mean_last_k"):
            raise RecipeError(f"recipe {self.name}: target must be 'final' or 'mean_last_k', got {self.target!r}")
        if not 1 <= self.target_last_k <= self.epochs:
            raise RecipeError(f"recipe {self.name}: target_last_k must be in [1, epochs={self.epochs}]")
        if min(self.C, self.N, self.resolution, self.epochs, self.batch_size) < 1:
            raise RecipeError(f"recipe {self.name}: C, N, resolution, epochs and batch_size must be >= 1")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Recipe":
        """Build from a mapping (e.g. a Hydra config), refusing unknown keys."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise RecipeError(f"unknown recipe field(s) {unknown}: valid fields are {sorted(names)}")
        return cls(**dict(d))

    def with_(self, **changes) -> "Recipe":
        """A copy with some fields changed (for probes); the hash changes with it."""
        return replace(self, **changes)


def canonical_json(recipe: Recipe) -> str:
    """Key-sorted, whitespace-free JSON of every field: the thing that is hashed."""
    return json.dumps(recipe.to_dict(), sort_keys=True, separators=(",", ":"))


def recipe_hash(recipe: Recipe) -> str:
    """12-hex-digit sha256 of the canonical JSON; stable across processes and platforms."""
    return hashlib.sha256(canonical_json(recipe).encode()).hexdigest()[:12]


# Chosen by measurement: see docs/recipe.md (filled in from bench/results/recipe_probe.json).
MINI = Recipe(
    name="mini", version=1, C=8, N=2, resolution=16, epochs=8, batch_size=64,
    lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4, schedule="cosine",
    augment="flip", train_per_class=100, test_per_class=100,
    target="mean_last_k", target_last_k=3,
)

# NAS-Bench-201: C=16, N=5, 32x32, 200 epochs, SGD Nesterov 0.9, lr 0.1 cosine, wd 5e-4, batch 256.
FULL = Recipe(
    name="full", version=1, C=16, N=5, resolution=32, epochs=200, batch_size=256,
    lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4, schedule="cosine",
    augment="flip_crop", train_per_class=150, test_per_class=50,
    target="final", target_last_k=1,
)

RECIPES: dict[str, Recipe] = {"mini": MINI, "full": FULL}


def get_recipe(name: str) -> Recipe:
    """The named built-in recipe ("mini" or "full")."""
    if name not in RECIPES:
        raise RecipeError(f"unknown recipe {name!r}: choose one of {sorted(RECIPES)}")
    return RECIPES[name]
