import os
from pathlib import Path

import pytest

from metad2a.bench.config import register_configs as register_bench
from metad2a.collect_config import register_configs as register_collect
from metad2a.generation.config import register_configs as register_generate
from metad2a.training.config import register_configs as register_train

REPO = Path(__file__).resolve().parent.parent

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


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data directory; tests that need it skip (loudly) when it is absent."""
    p = _shared()
    if p is None:
        # CI always has ../shared beside the clone, so a skip there would hide a broken path.
        if os.environ.get("CI"):
            pytest.fail("shared data not found in CI: expected ../shared/data or METAD2A_SHARED_DATA")
        pytest.skip("shared data not found: set METAD2A_SHARED_DATA")
    return p
