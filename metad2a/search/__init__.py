"""Search over NB201 cells with a query oracle (``acc(arch) -> float``) and a query budget."""

from metad2a.search.anasod import (
    SearchHistory,
    all_distributions,
    anasod_local_search,
    anasod_random_order,
    anasod_random_search,
    cells_of,
    counts_of,
    encode,
    neighbours,
    random_search_cells,
    sample_cell,
)

__all__ = [
    "SearchHistory", "all_distributions", "anasod_local_search", "anasod_random_order", "anasod_random_search", "cells_of",
    "counts_of", "encode", "neighbours", "random_search_cells", "sample_cell",
]
