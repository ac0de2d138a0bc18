"""How good a batch of generated cells is: validity, connectedness, uniqueness, novelty.

Pure functions of arch strings, so the benchmark, training's report and tests share them.
"""

from __future__ import annotations

from typing import Iterable, Sequence

from metad2a.space.arch import parse, valid_archs
from metad2a.space.canonical import canonical_form, zero_unreachable


def has_input_output_path(arch: str) -> bool:
    """Whether some chain of non-``none`` edges joins the cell's input to its output.

    Without one the cell outputs zeros whatever its input: a valid NB201 string, but a useless cell.
    """
    return any(op != "none" for op in parse(zero_unreachable(arch)))


def sample_quality(samples: Sequence[str], reference: Iterable[str] = ()) -> dict[str, float]:
    """How good a batch of generated cells is; each rate is in [0, 1] and can fall short of 1.

    validity:   fraction of samples that parse as NB201 cells
    connected:  fraction of samples that are valid and have an input-to-output path
                (``has_input_output_path``)
    uniqueness: distinct cells, up to NB201 equivalence (``canonical_form``), per sample
    novelty:    fraction of those distinct cells not equivalent to any cell of ``reference``
                (e.g. every cell evaluated in meta-training)
    """
    n = len(samples)
    valid = valid_archs(samples)
    distinct = {canonical_form(a) for a in valid}
    seen = {canonical_form(a) for a in valid_archs(list(reference))}
    return {"n": n, "validity": len(valid) / max(n, 1),
            "connected": sum(map(has_input_output_path, valid)) / max(n, 1),
            "uniqueness": len(distinct) / max(n, 1),
            "novelty": len(distinct - seen) / max(len(distinct), 1)}
