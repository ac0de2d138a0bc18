"""Shared writer for ``bench/results/*.json``: several bench scripts own different keys of one file.

    from results_io import update_results
    update_results(RESULTS, "anasod", {...})
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from metad2a.bench.provenance import file_sha256  # noqa: F401  (re-exported for the bench scripts)

RESULTS = Path(__file__).resolve().parent / "results" / "seed_methods.json"


def update_results(path: str | os.PathLike, key: str, value: Any) -> dict:
    """Set ``data[key] = value`` in the JSON object at ``path``; returns the whole object.

    Read-modify-write under an exclusive lock on the parent directory (so two scripts
    updating different keys never lose each other's), then tmp file + os.replace so a
    reader never sees a half-written file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        fcntl.flock(dir_fd, fcntl.LOCK_EX)
        data = json.loads(path.read_text()) if path.exists() else {}
        if not isinstance(data, dict):
            raise ValueError(f"{path} must hold a JSON object; move it aside and rerun")
        data[key] = value
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, indent=2, sort_keys=True)
                f.write("\n")
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        return data
    finally:
        fcntl.flock(dir_fd, fcntl.LOCK_UN)
        os.close(dir_fd)
