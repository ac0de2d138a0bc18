"""Keys a composed config has but its schema dataclass lacks: what Hydra lets through with ``+``.

Hydra refuses wrong types and unknown keys against a structured schema, except a key added with
``+key=value``, which it inserts anyway and which building the dataclass would then drop
silently. ``refuse_unknown_keys`` turns that into one ``ConfigError`` line.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Mapping

from metad2a.errors import ConfigError


def _dataclass_of(hint: Any) -> type | None:
    """The dataclass a field holds (``X`` or ``X | None``), or None for anything free-form."""
    if dataclasses.is_dataclass(hint):
        return hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if dataclasses.is_dataclass(a)]
        return inner[0] if len(inner) == 1 else None
    return None


def unknown_keys(node: Mapping[str, Any], schema: type, prefix: str = "") -> list[str]:
    """Dotted keys of ``node`` that ``schema`` (a dataclass) and its nested dataclasses do not define."""
    hints = typing.get_type_hints(schema)
    out = []
    for key in node:
        if key not in hints:
            out.append(f"{prefix}{key}")
        elif (inner := _dataclass_of(hints[key])) is not None and isinstance(node[key], Mapping):
            out += unknown_keys(node[key], inner, f"{prefix}{key}.")
    return out


def refuse_unknown_keys(node: Mapping[str, Any], schema: type) -> None:
    """ConfigError naming the first key of ``node`` that ``schema`` does not define."""
    if bad := unknown_keys(node, schema):
        raise ConfigError(f"{bad[0]} is not a setting (did a +{bad[0]}=... add it?): check the spelling "
                          f"against conf/, or drop it")
