"""The NAS-Bench-201 search space as plain functions (no torch import here).

``metad2a.space.network`` (the macro network) and ``metad2a.space.pyg`` import torch, and
``metad2a.space.graf`` (GRAF's graph features of a cell) numpy; they are loaded only on demand.
"""

from metad2a.space.arch import (
    Cell,
    all_archs,
    all_cells,
    arch_to_index,
    canonical_string,
    format_cell,
    from_naslib,
    index_to_arch,
    parse,
    to_naslib,
    valid_archs,
)
from metad2a.space.canonical import canonical_form, isomorphism_form, unique_cells, zero_unreachable
from metad2a.space.graph import (
    DAG_EDGES,
    NODE_TYPES,
    NUM_DAG_NODES,
    NUM_NODE_TYPES,
    dag_adjacency,
    node_one_hot,
    node_types,
    op_counts,
    to_networkx,
)
from metad2a.space.ops import EDGES, NASLIB_OPS, NUM_CELLS, OPS
from metad2a.space.quality import has_input_output_path, sample_quality

__all__ = [
    "Cell", "all_archs", "all_cells", "arch_to_index", "canonical_string", "format_cell", "from_naslib",
    "index_to_arch", "parse", "to_naslib", "valid_archs", "canonical_form", "isomorphism_form", "unique_cells",
    "zero_unreachable", "DAG_EDGES", "NODE_TYPES", "NUM_DAG_NODES", "NUM_NODE_TYPES", "dag_adjacency",
    "node_one_hot", "node_types", "op_counts", "to_networkx", "EDGES", "NASLIB_OPS", "NUM_CELLS", "OPS",
    "has_input_output_path", "sample_quality",
]
