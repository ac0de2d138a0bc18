"""The ``shared_data`` fixture: strict (fail when missing) only where the project asks, not wherever ``CI`` is set."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, REQUIRE_SHARED, shared_data_required


def _run_without_shared(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """pytest on one test that needs shared data, in a copy of the test setup with no ../shared beside it."""
    (tmp_path / "proj" / "tests").mkdir(parents=True)
    shutil.copy(REPO / "tests" / "conftest.py", tmp_path / "proj" / "tests" / "conftest.py")
    (tmp_path / "proj" / "tests" / "__init__.py").write_text("")
    (tmp_path / "proj" / "tests" / "test_needs_shared.py").write_text("def test_x(shared_data):\n    pass\n")
    clean = {k: v for k, v in os.environ.items() if k not in ("METAD2A_SHARED_DATA", REQUIRE_SHARED, "CI")}
    clean["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # the installed plugins only slow the start down
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                          cwd=tmp_path / "proj", capture_output=True, text=True, timeout=120, env={**clean, **env})


@pytest.mark.parametrize("env,required", [
    ({}, False),
    ({"CI": "true"}, False),  # a fork's CI without ../shared
    ({REQUIRE_SHARED: "1"}, True),
    ({"CI": "true", REQUIRE_SHARED: "0"}, False),
])
def test_strict_mode_follows_the_project_variable(env, required):
    assert shared_data_required(env) is required


def test_a_fork_ci_skips_and_the_project_ci_fails(tmp_path):
    fork = _run_without_shared(tmp_path / "fork", CI="true")
    assert fork.returncode == 0 and "1 skipped" in fork.stdout, fork.stdout[-1500:]
    ours = _run_without_shared(tmp_path / "ours", CI="true", **{REQUIRE_SHARED: "1"})
    assert ours.returncode == 1 and "shared data not found" in ours.stdout, ours.stdout[-1500:]


def test_ci_script_sets_the_strict_mode():
    script = (REPO / ".ci" / "run").read_text()
    assert f'export {REQUIRE_SHARED}="${{{REQUIRE_SHARED}:-1}}"' in script
