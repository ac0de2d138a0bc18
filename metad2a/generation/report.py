"""What generate.py shows and writes: a terminal table and a JSON result."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RankedCell:
    arch: str
    predicted_accuracy: float
    params: int
    flops: int


@dataclass
class GenerationResult:
    """The JSON document generate.py writes (field names are the public schema)."""

    ranked: list[RankedCell]
    dataset: dict[str, Any]  # {name, num_classes, images_used}
    timings_s: dict[str, float]  # per stage, plus "total"
    generator: dict[str, int]  # {sampled, valid, unique}
    config: dict[str, Any]
    skipped_files: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def format_table(ranked: list[RankedCell], score_name: str = "pred. acc") -> str:
    """A fixed-width table of the ranked cells, best first."""
    header = f"{'#':>3}  {score_name:>9}  {'params (M)':>10}  {'MFLOPs':>8}  arch"
    lines = [header, "-" * len(header)]
    for i, c in enumerate(ranked, 1):
        lines.append(f"{i:>3}  {c.predicted_accuracy:>9.3f}  {c.params / 1e6:>10.3f}  {c.flops / 1e6:>8.1f}  {c.arch}")
    return "\n".join(lines)
