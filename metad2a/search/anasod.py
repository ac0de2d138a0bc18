"""ANASOD (Wan et al., WACV 2022): search over operation distributions instead of cells.

A cell's ANASOD encoding is its op counts over the 6 edges divided by 6, a point on the
simplex over ``OPS`` with denominator 6; there are C(6+5-1, 5-1) = 210 of them. Search
proposes a distribution and queries one cell drawn from it: a uniformly random placement
of that multiset of ops on the 6 edges. Distributions are handled as integer count tuples
(``Counts``, in ``OPS`` order, summing to 6) so that equality is exact.

Every search here takes a query oracle ``acc(arch) -> float`` and a budget (the number of
distinct cells queried) and returns the full ``SearchHistory``; ``anasod_random_order`` is the
random search over a finite pool of cells (e.g. those trained on a benchmark task), returning
the query order instead.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Collection, Sequence

import numpy as np

from metad2a.errors import InvalidArchError
from metad2a.space import EDGES, NUM_CELLS, OPS, all_archs, format_cell, op_counts

Counts = tuple[int, ...]
Oracle = Callable[[str], float]

NUM_SLOTS = len(EDGES)  # 6 edges: the denominator of every distribution


@dataclass
class SearchHistory:
    """Cells in the order they were queried, with their oracle accuracies."""

    method: str
    archs: list[str] = field(default_factory=list)
    accs: list[float] = field(default_factory=list)

    def add(self, arch: str, acc: float) -> None:
        self.archs.append(arch)
        self.accs.append(float(acc))

    def best_so_far(self) -> np.ndarray:
        """(n_queries,) running maximum of the queried accuracies."""
        return np.maximum.accumulate(np.asarray(self.accs, dtype=float))

    def best(self, n: int | None = None) -> tuple[str, float]:
        """The best (arch, acc) among the first ``n`` queries (all when None)."""
        accs = self.accs[:n]
        if not accs:
            raise ValueError("the search history is empty: query at least one cell first")
        i = int(np.argmax(accs))
        return self.archs[i], accs[i]


# --- Encoding -------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def all_distributions() -> tuple[Counts, ...]:
    """All 210 op-count tuples ``(c_none, c_skip, c_1x1, c_3x3, c_pool)`` with sum 6, lexicographic."""
    return tuple(c for c in itertools.product(range(NUM_SLOTS + 1), repeat=len(OPS)) if sum(c) == NUM_SLOTS)


def check_counts(counts: Sequence[int]) -> Counts:
    """Return ``counts`` as a tuple, or raise InvalidArchError if it is not a valid distribution."""
    c = tuple(counts)
    if len(c) != len(OPS) or any(not isinstance(v, (int, np.integer)) or v < 0 for v in c) or sum(c) != NUM_SLOTS:
        raise InvalidArchError(
            f"op counts must be {len(OPS)} non-negative ints in OPS order {list(OPS)} summing to {NUM_SLOTS}, got {c}"
        )
    return tuple(int(v) for v in c)


def counts_of(arch: str) -> Counts:
    """The op counts of a cell, in ``OPS`` order."""
    oc = op_counts(arch)
    return tuple(oc[op] for op in OPS)


def encode(arch: str) -> np.ndarray:
    """ANASOD encoding of a cell: (5,) op frequencies in ``OPS`` order, summing to 1."""
    return np.asarray(counts_of(arch), dtype=float) / NUM_SLOTS


@lru_cache(maxsize=len(all_distributions()))
def cells_of(counts: Counts) -> tuple[str, ...]:
    """All distinct cells with these op counts (sorted); at most 6! = 720."""
    ops = [op for op, c in zip(OPS, check_counts(counts)) for _ in range(c)]
    return tuple(sorted({format_cell(p) for p in itertools.permutations(ops)}))


def sample_cell(counts: Counts, rng: np.random.Generator, exclude: Collection[str] = ()) -> str | None:
    """A uniformly random cell with exactly these op counts that is not in ``exclude``.

    Returns None when every cell of the distribution is excluded.
    """
    ops = [op for op, c in zip(OPS, check_counts(counts)) for _ in range(c)]
    # A shuffle of the multiset hits each distinct placement equally often; rejection is
    # cheap while few cells are excluded, enumeration covers nearly exhausted distributions.
    for _ in range(16):
        cell = format_cell([ops[i] for i in rng.permutation(NUM_SLOTS)])
        if cell not in exclude:
            return cell
    fresh = [c for c in cells_of(tuple(counts)) if c not in exclude]
    return fresh[int(rng.integers(len(fresh)))] if fresh else None


def neighbours(counts: Counts) -> list[Counts]:
    """Distributions one unit of count away: move one edge from op i (count > 0) to op j != i."""
    c = check_counts(counts)
    out = []
    for i, j in itertools.permutations(range(len(OPS)), 2):
        if c[i] > 0:
            n = list(c)
            n[i] -= 1
            n[j] += 1
            out.append(tuple(n))
    return out


# --- Search ---------------------------------------------------------------------------------

def _check_budget(budget: int) -> None:
    if not 1 <= budget <= NUM_CELLS:
        raise ValueError(f"budget must be an int in 1..{NUM_CELLS} (distinct cells to query), got {budget}")


@lru_cache(maxsize=1)
def _archs() -> tuple[str, ...]:
    return tuple(all_archs())


def random_search_cells(acc: Oracle, budget: int, seed: int = 0) -> SearchHistory:
    """Baseline: query ``budget`` distinct cells drawn uniformly from all 15,625."""
    _check_budget(budget)
    rng = np.random.default_rng(seed)
    hist = SearchHistory("random_search_cells")
    for i in rng.choice(NUM_CELLS, size=budget, replace=False):
        arch = _archs()[int(i)]
        hist.add(arch, acc(arch))
    return hist


def anasod_random_search(acc: Oracle, budget: int, seed: int = 0) -> SearchHistory:
    """Draw a distribution uniformly from the 210, then an unqueried cell from it; repeat."""
    _check_budget(budget)
    rng = np.random.default_rng(seed)
    dists = all_distributions()
    hist, seen = SearchHistory("anasod_random_search"), set()
    while len(hist.archs) < budget:
        arch = sample_cell(dists[int(rng.integers(len(dists)))], rng, seen)
        if arch is not None:  # None: that distribution's cells are all queried already
            seen.add(arch)
            hist.add(arch, acc(arch))
    return hist


def anasod_random_order(archs: Sequence[str], budget: int, rng: np.random.Generator) -> list[int]:
    """ANASOD random search restricted to ``archs``: indices in query order, ``min(budget, n)`` of them.

    Each query draws an op distribution uniformly among those that still have unqueried cells in
    ``archs``, then one of its unqueried cells uniformly: the law of ``anasod_random_search``
    (which redraws when a distribution is exhausted), over a pool instead of the whole space.
    """
    by_counts: dict[Counts, list[int]] = defaultdict(list)
    for i, a in enumerate(archs):
        by_counts[counts_of(a)].append(i)
    left = {c: list(ix) for c, ix in sorted(by_counts.items())}
    order: list[int] = []
    while len(order) < min(budget, len(archs)):
        dists = [c for c, ix in left.items() if ix]
        cells = left[dists[int(rng.integers(len(dists)))]]
        order.append(cells.pop(int(rng.integers(len(cells)))))
    return order


def anasod_local_search(acc: Oracle, budget: int, seed: int = 0) -> SearchHistory:
    """First-improvement local search over distributions, with random restarts.

    A distribution's value is the accuracy of the one cell sampled from it when it was
    visited. From the current distribution, neighbours are tried in random order (one fresh
    cell each); the first that beats the current value becomes current. When none does, the
    search restarts from a uniformly random distribution.
    """
    _check_budget(budget)
    rng = np.random.default_rng(seed)
    dists = all_distributions()
    hist, seen = SearchHistory("anasod_local_search"), set()

    def query(counts: Counts) -> float | None:
        arch = sample_cell(counts, rng, seen)
        if arch is None:
            return None
        seen.add(arch)
        hist.add(arch, acc(arch))
        return hist.accs[-1]

    while len(hist.archs) < budget:
        current = dists[int(rng.integers(len(dists)))]
        current_acc = query(current)
        improved = current_acc is not None
        while improved and len(hist.archs) < budget:
            improved = False
            for k in rng.permutation(len(nbrs := neighbours(current))):
                if len(hist.archs) >= budget:
                    break
                a = query(nbrs[int(k)])
                if a is not None and a > current_acc:
                    current, current_acc, improved = nbrs[int(k)], a, True
                    break
    return hist
