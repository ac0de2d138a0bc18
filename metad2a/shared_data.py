"""Where the read-only shared data lives (NB201 tables, NAAP-440, image sets).

Resolution order: an explicit path, then ``$METAD2A_SHARED_DATA``, then ``../shared/data``
next to the repository (the layout on developer machines and CI).
"""

from __future__ import annotations

import os
from pathlib import Path

from metad2a.errors import SharedDataError

_REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir(path: str | os.PathLike | None = None) -> Path:
    """Return the shared data directory, or raise SharedDataError saying how to point at it."""
    candidates = [path, os.environ.get("METAD2A_SHARED_DATA"), _REPO_ROOT.parent / "shared" / "data"]
    for cand in candidates:
        if cand and Path(cand).is_dir():
            return Path(cand)
    raise SharedDataError(
        "shared data directory not found: set METAD2A_SHARED_DATA=/path/to/shared/data "
        "(it holds nb201/, naap440/ and images/)"
    )


def shared_file(relative: str, root: str | os.PathLike | None = None) -> Path:
    """Return ``<shared data>/<relative>``, raising SharedDataError if it does not exist."""
    p = shared_data_dir(root) / relative
    if not p.exists():
        raise SharedDataError(f"missing shared data file {p}: check METAD2A_SHARED_DATA points at shared/data")
    return p
