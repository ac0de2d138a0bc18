"""What generate.py shows and writes: a terminal table and a JSON result."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

# Column header per scorer name; anything else shows its own name.
_SCORE_HEADERS = {"meta": "pred. acc", "meta_agnostic": "pred. acc", "graf": "graf acc", "naswot": "naswot",
                  "ensemble": "ens. rank"}


@dataclass
class RankedCell:
    """One row of ``ranked``: the cell, its score (predicted accuracy in % for meta/graf), costs.

    params and flops are those of the network generate.py writes (network.C, network.N, the
    dataset's classes) on one ``network.cost_input_size`` image.
    """

    arch: str
    predicted_accuracy: float
    params: int
    flops: int


@dataclass
class TrainedCell:
    """One row of ``trained`` (``train_best=true``): test accuracy (%) on held-out user images.

    test_accuracy is the recipe's target (``mini``: mean of the last 3 epochs' test accuracy).
    """

    arch: str
    test_accuracy: float
    final_accuracy: float
    wall_s: float


@dataclass
class GenerationResult:
    """The JSON document generate.py writes (field names are the public schema)."""

    ranked: list[RankedCell]
    dataset: dict[str, Any]  # {name, num_classes, images_used, path, class_names, fingerprint}
    timings_s: dict[str, float]  # per stage, plus "total"
    generator: dict[str, int]  # {sampled, valid, unique}
    config: dict[str, Any]
    predictor: str = ""  # the scorer's name: what predicted_accuracy means
    scale: str = ""  # which training predicted_accuracy answers for (meta: "nb201-200ep", NB201's proper training)
    trained: list[TrainedCell] = field(default_factory=list)
    train: dict[str, Any] = field(default_factory=dict)  # {recipe, recipe_hash, train_images, test_images}
    model_file: str = ""
    checkpoints: dict[str, Any] = field(default_factory=dict)  # {role: {path, data_fingerprint, code_version}}
    skipped_files: dict[str, int] = field(default_factory=dict)  # {corrupt, non_image, too_large, linked, special}
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def score_header(predictor: str) -> str:
    return _SCORE_HEADERS.get(predictor, predictor[:9] or "score")


def format_table(ranked: Sequence[RankedCell], score_name: str = "pred. acc",
                 trained: Sequence[TrainedCell] = ()) -> str:
    """A fixed-width table of the ranked cells, best first; a test-accuracy column when cells were trained."""
    test = {t.arch: t.test_accuracy for t in trained}
    col = f"  {'test acc':>8}" if test else ""
    header = f"{'#':>3}  {score_name:>9}{col}  {'params (M)':>10}  {'MFLOPs':>8}  arch"
    lines = [header, "-" * len(header)]
    for i, c in enumerate(ranked, 1):
        acc = (f"  {test[c.arch]:>8.2f}" if c.arch in test else f"  {'':>8}") if test else ""
        lines.append(f"{i:>3}  {c.predicted_accuracy:>9.3f}{acc}  {c.params / 1e6:>10.3f}  {c.flops / 1e6:>8.1f}"
                     f"  {c.arch}")
    return "\n".join(lines)


def format_timings(timings: dict[str, float]) -> str:
    return "timings (s): " + ", ".join(f"{k} {v:.2f}" for k, v in timings.items())


def format_skipped(skipped: dict[str, int]) -> str:
    """``"3 files skipped (2 corrupt, 1 non_image)"`` or ``""`` when nothing was skipped."""
    parts = [f"{n} {k.replace('_', '-')}" for k, n in skipped.items() if n]
    return f"{sum(skipped.values())} files skipped ({', '.join(parts)})" if parts else ""
