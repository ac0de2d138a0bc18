"""Equivalence classes of NB201 cells (pure Python).

``canonical_form`` follows the NB201 convention (6,466 classes): each node gets an
expression built from its inputs; ``none`` edges and inputs that are already zero give a
zero term, ``skip_connect`` passes its input through, any other op wraps it; a node's terms
are sorted and joined, and two cells are equivalent when their output expressions match.
Note the zero mark is only recognised for a node that received exactly one zero term, which
is what reproduces the field's 6,466 count.

``isomorphism_form`` is plain isomorphism of the computational graph (8,765 classes): ops
that no input-to-output path uses are zeroed, ``none`` edges are dropped, and the two
intermediate nodes may be relabelled when no edge joins them.
"""

from __future__ import annotations

from typing import Iterable

from metad2a.space.arch import all_cells, format_cell, parse
from metad2a.space.ops import EDGES

ZERO = "#"


def _node_expressions(cell: tuple[str, ...]) -> list[str]:
    expr = ["x"]
    for j in (1, 2, 3):
        terms = []
        for (src, dst), op in zip(EDGES, cell):
            if dst != j:
                continue
            if op == "none" or expr[src] == ZERO:
                terms.append(ZERO)
            elif op == "skip_connect":
                terms.append(expr[src])
            else:
                terms.append(f"({expr[src]})@{op}")
        expr.append("+".join(sorted(terms)))
    return expr


def canonical_form(arch: str) -> str:
    """NB201-convention canonical expression of the cell's output (6,466 classes)."""
    return _node_expressions(parse(arch))[3]


def zero_unreachable(arch: str) -> str:
    """Replace ops that lie on no input-to-output path of non-``none`` edges with ``none``."""
    cell = list(parse(arch))
    live = [(s, d) for (s, d), op in zip(EDGES, cell) if op != "none"]
    fwd, bwd = {0}, {3}
    for s, d in live:  # EDGES are topologically ordered
        if s in fwd:
            fwd.add(d)
    for s, d in reversed(live):
        if d in bwd:
            bwd.add(s)
    for k, (s, d) in enumerate(EDGES):
        if not (s in fwd and d in bwd):
            cell[k] = "none"
    return format_cell(cell)


def isomorphism_form(arch: str) -> str:
    """Canonical key under plain isomorphism of the computational graph (8,765 classes)."""
    cell = parse(zero_unreachable(arch))
    variants = [cell]
    if cell[2] == "none":  # no 1->2 edge: nodes 1 and 2 are interchangeable
        # swap node 1 and 2: edges (0,1)<->(0,2), (1,3)<->(2,3)
        variants.append((cell[1], cell[0], cell[2], cell[3], cell[5], cell[4]))
    return min(format_cell(v) for v in variants)


def unique_cells(archs: Iterable[str] | None = None, isomorphism: bool = False) -> list[str]:
    """One representative arch (the first seen) per equivalence class, in input order."""
    key = isomorphism_form if isomorphism else canonical_form
    seen: dict[str, str] = {}
    for a in archs if archs is not None else (format_cell(c) for c in all_cells()):
        seen.setdefault(key(a), a)
    return list(seen.values())
