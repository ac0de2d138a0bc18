"""The README's two commands are the ones CI runs, and the entry points start."""

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", text)[:2]


def test_readme_starts_with_two_commands_that_ci_runs():
    cmds = readme_commands()
    assert len(cmds) == 2
    assert "generate.py" in cmds[0] and "pytest" in cmds[1]
    ci = (REPO / ".ci" / "run").read_text()
    for c in cmds:
        assert c in ci, f"CI does not run the README command: {c}"


def test_entry_points_compose_their_configs():
    for script in ("train.py", "generate.py"):
        out = subprocess.run([sys.executable, script, "--cfg", "job"], cwd=REPO, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert "seed:" in out.stdout
