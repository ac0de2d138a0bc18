"""Command-line sugar for generate.py, applied before Hydra parses the overrides."""

from __future__ import annotations

from typing import Sequence

# Keys users may pass as a bare value that really set a field of a config node.
_SHORTHANDS = {"data": "data.path", "+data": "data.path"}


def expand_shorthands(argv: Sequence[str]) -> list[str]:
    """``data=/path/to/folder`` -> ``data.path=/path/to/folder`` (``data`` is a config node)."""
    out = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        out.append(f"{_SHORTHANDS[key]}={value}" if sep and key in _SHORTHANDS else arg)
    return out
