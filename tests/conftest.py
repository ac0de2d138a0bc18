import os
import threading
from pathlib import Path
from typing import Callable, Mapping, TypeVar

import pytest

from metad2a.bench.config import register_configs as register_bench
from metad2a.collect_config import register_configs as register_collect
from metad2a.generation.config import register_configs as register_generate
from metad2a.training.config import register_configs as register_train

REPO = Path(__file__).resolve().parent.parent
# Set by .ci/run, where ../shared is always present: a missing shared dir then fails instead of skipping.
REQUIRE_SHARED = "METAD2A_REQUIRE_SHARED"
T = TypeVar("T")

# The top-level configs in conf/ name their schemas first; tests compose them in-process, as the
# entry points (train.py, generate.py, -m metad2a.collect, -m metad2a.bench) do after registering.
for register in (register_train, register_generate, register_collect, register_bench):
    register()


def _shared() -> Path | None:
    env = os.environ.get("METAD2A_SHARED_DATA")
    for p in (env, REPO.parent / "shared" / "data"):
        if p and Path(p).is_dir():
            return Path(p)
    return None


def shared_data_required(environ: Mapping[str, str]) -> bool:
    """Whether a missing shared dir is a failure: only where the project itself asks (not any ``CI=true``)."""
    return environ.get(REQUIRE_SHARED, "").strip().lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data directory; tests that need it skip (loudly) when it is absent."""
    p = _shared()
    if p is None:
        # The project's CI has ../shared beside the clone, so a skip there would hide a broken path;
        # a fork's CI (CI=true, no ../shared) skips like a laptop.
        if shared_data_required(os.environ):
            pytest.fail(f"shared data not found with {REQUIRE_SHARED}=1: expected ../shared/data or "
                        "METAD2A_SHARED_DATA")
        pytest.skip("shared data not found: set METAD2A_SHARED_DATA")
    return p


def run_within(seconds: float, fn: Callable[[], T]) -> T:
    """fn() run in a thread; fails (instead of hanging the suite) if it takes longer than ``seconds``."""
    out: dict = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as e:  # re-raised in the test's thread
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"still running after {seconds} s (blocked on a special file?)"
    if "error" in out:
        raise out["error"]
    return out["value"]


def unblock_fifo(path: Path) -> None:
    """Open the FIFO's write end, releasing a reader stuck in open() (when the code under test hangs)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass
