import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


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
