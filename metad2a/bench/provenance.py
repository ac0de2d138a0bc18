"""Where and when a benchmark ran, and on which exact files: the result's provenance."""

from __future__ import annotations

import hashlib
import os
import platform
import socket
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable


def utc_now() -> str:
    """ISO 8601 UTC time to the second, e.g. "2025-01-31T12:00:00+00:00"."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """Host, OS, CPU, core count, GPU (if any), Python and torch versions, and a one-line summary."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    info = {"hostname": socket.gethostname(), "platform": platform.platform(), "cpu": _cpu_model(),
            "cpu_count": os.cpu_count(), "gpu": gpu, "python": platform.python_version(), "torch": torch.__version__}
    info["summary"] = f"{info['cpu']} ({info['cpu_count']} cores)" + (f", {gpu}" if gpu else ", no GPU")
    return info


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fingerprints(paths: Iterable[str]) -> dict[str, str]:
    """sha256 of each path that is an existing file (stores, feature files, checkpoints)."""
    return {p: file_sha256(p) for p in sorted(set(paths)) if Path(p).is_file()}
