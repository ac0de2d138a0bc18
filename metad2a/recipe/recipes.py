"""Cell-training recipes: frozen, versioned, hashed, so every record says how it was made.

``MINI`` is the CPU recipe chosen by measurement (see docs/recipe.md and
bench/recipe_probe.py); ``FULL`` is the NAS-Bench-201 recipe for GPU users.
"""

from __future__ import annotations

import hashlib
import json
import math
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

    Length: ``steps > 0`` fixes the number of SGD steps instead of the epochs, so tasks of any
    size get the same optimisation (epochs = round(steps / steps per epoch), at least
    ``target_last_k``; ``epochs`` is then unused), and ``max_epochs > 0`` caps those epochs, as
    NAS-Bench-201 trains for 200: a small task converges long before the step budget, so it
    stops there (docs/recipe.md). ``eval_points > 0`` evaluates the test
    set at about that many evenly spaced epochs plus the last ``target_last_k`` ones instead of
    after every epoch; the record lists which epochs in ``eval_epochs``.
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
    # Added in version 2 of the format; left out of the hash at these defaults, so recipes
    # that predate them keep their hash.
    steps: int = 0
    eval_points: int = 0
    max_epochs: int = 0

    def __post_init__(self) -> None:
        if self.schedule not in ("cosine", "constant"):
            raise RecipeError(f"recipe {self.name}: schedule must be 'cosine' or 'constant', got {self.schedule!r}")
        if self.augment not in ("none", "flip", "flip_crop"):
            raise RecipeError(f"recipe {self.name}: augment must be none|flip|flip_crop, got {self.augment!r}")
        if self.target not in ("final", "mean_last_k"):
            raise RecipeError(f"recipe {self.name}: target must be 'final' or 'mean_last_k', got {self.target!r}")
        if not 1 <= self.target_last_k <= self.epochs and self.steps == 0:
            raise RecipeError(f"recipe {self.name}: target_last_k must be in [1, epochs={self.epochs}]")
        if self.steps < 0 or self.eval_points < 0 or self.max_epochs < 0:
            raise RecipeError(f"recipe {self.name}: steps, eval_points and max_epochs must be >= 0 (0 = off)")
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

    def epochs_for(self, num_train: int) -> int:
        """Epochs this recipe runs on ``num_train`` training images."""
        if self.steps == 0:
            return self.epochs
        per_epoch = math.ceil(num_train / self.batch_size)
        epochs = round(self.steps / per_epoch)
        if self.max_epochs:
            epochs = min(epochs, self.max_epochs)
        return max(self.target_last_k, epochs)

    def eval_epochs(self, epochs: int) -> list[int]:
        """The 1-based epochs after which the test set is scored (all of them when eval_points=0)."""
        if self.eval_points == 0 or epochs <= self.eval_points + self.target_last_k:
            return list(range(1, epochs + 1))
        spaced = {max(1, round(epochs * (i + 1) / self.eval_points)) for i in range(self.eval_points)}
        last = set(range(epochs - self.target_last_k + 1, epochs + 1))
        return sorted(spaced | last)

    def with_(self, **changes) -> "Recipe":
        """A copy with some fields changed (for probes); the hash changes with it."""
        return replace(self, **changes)


_LATER_DEFAULTS = {"steps": 0, "eval_points": 0, "max_epochs": 0}  # fields added after version 1, at their off values


def canonical_json(recipe: Recipe) -> str:
    """Key-sorted, whitespace-free JSON of every field: the thing that is hashed.

    Fields added after the first format are left out while at their defaults, so the hashes of
    older recipes (and of the records made with them) do not change.
    """
    d = {k: v for k, v in recipe.to_dict().items() if not (k in _LATER_DEFAULTS and v == _LATER_DEFAULTS[k])}
    return json.dumps(d, sort_keys=True, separators=(",", ":"))


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

# The truth recipe of database v2, chosen by its fidelity to NB201's 200-epoch training
# (docs/recipe.md): 2,640 SGD steps of batch 64, at most NB201's 200 epochs on small tasks.
TRUTH = MINI.with_(name="truth", version=2, batch_size=64, steps=2640, max_epochs=200, eval_points=6,
                   train_per_class=200, test_per_class=200)

RECIPES: dict[str, Recipe] = {"mini": MINI, "full": FULL, "truth": TRUTH}


def get_recipe(name: str) -> Recipe:
    """The named built-in recipe ("mini", "truth" or "full")."""
    if name not in RECIPES:
        raise RecipeError(f"unknown recipe {name!r}: choose one of {sorted(RECIPES)}")
    return RECIPES[name]
