"""Command-line sugar for generate.py, applied before Hydra parses the overrides.

Hydra's override grammar refuses unquoted values with non-ASCII letters, ``~``, ``=``, brackets,
parentheses and more, and reads a comma as a sweep; file paths hold all of those. So the values
of path options are quoted here, and ``data=/data/猫`` or ``data=/data/a,b`` just work.
"""

from __future__ import annotations

import re
from typing import Sequence

# Keys users may pass as a bare value that really set a field of a config node.
_SHORTHANDS = {"data": "data.path", "+data": "data.path"}
# Options whose value is one file system path.
PATH_KEYS = frozenset({"data.path", "output", "model_file", "generator_checkpoint", "predictor.checkpoint",
                       "predictor.fit_db"})
_MEMBER_PATH = re.compile(r"predictor\.members\.\d+\.(checkpoint|fit_db)")
# Hydra's sweep and cast functions: ``data=glob(/sets/*)`` stays an expression.
_FUNCTION = re.compile(r"(choice|range|interval|glob|sort|shuffle|tag|str|int|float|bool|json_str|extend_list)\(.*\)\Z",
                       re.DOTALL)
_MULTIRUN_FLAGS = ("-m", "--multirun")


def hydra_quote(value: str) -> str:
    """``value`` as one single-quoted Hydra string that parses back to exactly ``value``.

    In Hydra's quoted strings ``\\'`` is a quote, and only backslashes before a quote (or before
    the closing quote) need doubling.
    """
    value = re.sub(r"(\\+)(?='|\Z)", lambda m: m.group(1) * 2, value)
    return "'" + value.replace("'", "\\'") + "'"


def _is_quoted(value: str) -> bool:
    return len(value) >= 2 and value[0] == value[-1] and value[0] in "'\""


def _quote_path(value: str, multirun: bool) -> str:
    if value in ("", "null") or _is_quoted(value) or _FUNCTION.match(value):
        return value
    if multirun and "," in value:  # -m data=/a,/b sweeps two paths; quote a path holding a comma yourself
        return ",".join(hydra_quote(v) for v in value.split(","))
    return hydra_quote(value)


def is_multirun(argv: Sequence[str]) -> bool:
    return any(a in _MULTIRUN_FLAGS or a.replace(" ", "") == "hydra.mode=MULTIRUN" for a in argv)


def expand_shorthands(argv: Sequence[str]) -> list[str]:
    """Rewrite generate.py's arguments for Hydra.

    ``data=/path`` becomes ``data.path=/path`` (``data`` is a config node), and the value of every
    path option (``PATH_KEYS``, with or without a ``+``/``++`` prefix) is quoted: no path needs
    quoting on the command line. Values that are already quoted, ``null``, or a Hydra function
    such as ``glob(...)`` are left alone; with ``-m``, a comma separates sweep values.
    """
    multirun = is_multirun(argv)
    out = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if key in _SHORTHANDS:
            key = _SHORTHANDS[key]
        name = key.lstrip("+")
        if sep and not arg.startswith("-") and (name in PATH_KEYS or _MEMBER_PATH.fullmatch(name)):
            arg = f"{key}={_quote_path(value, multirun)}"
        out.append(arg)
    return out
