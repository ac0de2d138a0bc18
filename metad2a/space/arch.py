"""NB201 architecture strings: parse, format, NASLib tuples, enumeration and the official index.

A cell is represented internally as a tuple of 6 op names in arch-string edge order
(see ``ops.EDGES``). Everything here is pure Python.
"""

from __future__ import annotations

import csv
import itertools
import os
from functools import lru_cache
from typing import Iterator, Sequence

from metad2a.errors import InvalidArchError
from metad2a.space.ops import EDGES, NASLIB_EDGE_ORDER, NASLIB_OPS, NUM_CELLS, OPS

Cell = tuple[str, str, str, str, str, str]


def parse(arch: str) -> Cell:
    """Parse ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` into 6 op names; strict.

    Raises InvalidArchError naming the offending token.
    """
    if not isinstance(arch, str):
        raise InvalidArchError(f"arch must be a string like '|nor_conv_3x3~0|+|...|', got {type(arch).__name__}")
    s = arch.strip()
    nodes = s.split("+")
    if len(nodes) != 3:
        raise InvalidArchError(f"arch {arch!r} must have 3 '+'-separated node groups, found {len(nodes)}")
    ops: list[str] = []
    for j, group in enumerate(nodes, start=1):
        if not (group.startswith("|") and group.endswith("|")) or len(group) < 2:
            raise InvalidArchError(f"node group {group!r} in {arch!r} must start and end with '|'")
        tokens = group[1:-1].split("|")
        if len(tokens) != j:
            raise InvalidArchError(f"node group {group!r} in {arch!r} must have {j} edge(s), found {len(tokens)}")
        for i, tok in enumerate(tokens):
            op, sep, src = tok.partition("~")
            if not sep or op not in OPS:
                raise InvalidArchError(f"bad token {tok!r} in {arch!r}: expected '<op>~{i}' with op in {list(OPS)}")
            if src != str(i):
                raise InvalidArchError(f"bad token {tok!r} in {arch!r}: input index must be {i}")
            ops.append(op)
    return tuple(ops)  # type: ignore[return-value]


def valid_archs(archs: Sequence[str]) -> list[str]:
    """The strings of ``archs`` that parse as NB201 cells, in order (invalid ones dropped)."""
    out = []
    for a in archs:
        try:
            parse(a)
            out.append(a)
        except InvalidArchError:
            pass
    return out


def format_cell(cell: Sequence[str]) -> str:
    """Format 6 op names (arch-string edge order) as an NB201 arch string."""
    cell = _check_cell(cell)
    groups, k = [], 0
    for j in (1, 2, 3):
        groups.append("|" + "|".join(f"{cell[k + i]}~{i}" for i in range(j)) + "|")
        k += j
    return "+".join(groups)


def canonical_string(arch: str) -> str:
    """Round-trip an arch string through the parser (normalizes whitespace, validates)."""
    return format_cell(parse(arch))


def _check_cell(cell: Sequence[str]) -> Cell:
    cell = tuple(cell)
    if len(cell) != len(EDGES):
        raise InvalidArchError(f"a cell has {len(EDGES)} ops, got {len(cell)}: {cell}")
    for op in cell:
        if op not in OPS:
            raise InvalidArchError(f"unknown op {op!r}: expected one of {list(OPS)}")
    return cell  # type: ignore[return-value]


def to_naslib(arch: str) -> tuple[int, ...]:
    """Arch string -> NASLib 6-tuple ``(e01, e02, e03, e12, e13, e23)`` of NASLib op ids."""
    cell = parse(arch)
    return tuple(NASLIB_OPS.index(cell[p]) for p in NASLIB_EDGE_ORDER)


def from_naslib(t: Sequence[int]) -> str:
    """NASLib 6-tuple of op ids (0 skip, 1 none, 2 conv3x3, 3 conv1x1, 4 avgpool) -> arch string."""
    t = tuple(t)
    if len(t) != 6 or not all(isinstance(v, int) and 0 <= v < len(NASLIB_OPS) for v in t):
        raise InvalidArchError(f"NASLib tuple must be 6 ints in 0..4, got {t}")
    cell = [""] * 6
    for k, p in enumerate(NASLIB_EDGE_ORDER):
        cell[p] = NASLIB_OPS[t[k]]
    return format_cell(cell)


def all_cells() -> Iterator[Cell]:
    """All 15,625 cells, lexicographic in ``OPS`` order over the 6 edges."""
    return itertools.product(OPS, repeat=len(EDGES))  # type: ignore[return-value]


def all_archs() -> list[str]:
    """All 15,625 arch strings (lexicographic, not the official index order)."""
    return [format_cell(c) for c in all_cells()]


# --- The official NB201 index ---------------------------------------------------------
# The official index is a fixed permutation with no closed form, so it is read from the
# NB201 table (``index, arch`` columns) rather than re-derived or vendored.

def _default_index_table() -> str:
    from metad2a.shared_data import shared_file

    return str(shared_file("nb201/nb201_test_accuracy.csv"))


@lru_cache(maxsize=4)
def _index_maps(table: str) -> tuple[tuple[str, ...], dict[str, int]]:
    with open(table, newline="") as f:
        rows = [(int(r["index"]), canonical_string(r["arch"])) for r in csv.DictReader(f)]
    if len(rows) != NUM_CELLS or sorted(i for i, _ in rows) != list(range(NUM_CELLS)):
        raise InvalidArchError(f"{table} must list indices 0..{NUM_CELLS - 1} exactly once")
    by_index = [""] * NUM_CELLS
    for i, a in rows:
        by_index[i] = a
    return tuple(by_index), {a: i for i, a in enumerate(by_index)}


def index_to_arch(index: int, table: str | os.PathLike | None = None) -> str:
    """Official NB201 index -> arch string (table: a CSV with ``index, arch`` columns)."""
    if not isinstance(index, int) or not 0 <= index < NUM_CELLS:
        raise InvalidArchError(f"NB201 index must be an int in 0..{NUM_CELLS - 1}, got {index!r}")
    return _index_maps(str(table or _default_index_table()))[0][index]


def arch_to_index(arch: str, table: str | os.PathLike | None = None) -> int:
    """Arch string -> official NB201 index."""
    return _index_maps(str(table or _default_index_table()))[1][canonical_string(arch)]
