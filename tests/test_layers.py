"""Imports point down the layers of docs/architecture.md, whose table is the one place the order lives.

Every module of metad2a/ is parsed with ``ast``; every import counts, those inside functions
included. A module may import its own layer or lower ones; a higher layer is a violation, and
the packages of one layer must not import each other in a cycle.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "metad2a"
TABLE = REPO / "docs" / "architecture.md"


def read_layers(text: str) -> dict[str, int]:
    """{unit: layer} from the markdown rows ``| <layer #> | <name> | `mod` `mod` ... | why |``."""
    layers: dict[str, int] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].isdigit():
            for unit in re.findall(r"`([\w.]+)`", cells[2]):
                assert unit not in layers, f"{unit} is in two layers"
                layers[unit] = int(cells[0])
    return layers


def modules(package: Path) -> dict[str, Path]:
    """{dotted name: file} of every module under ``package`` (a package is named by its __init__)."""
    out = {}
    for p in sorted(package.rglob("*.py")):
        parts = p.relative_to(package.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return out


def imports_of(name: str, path: Path, known: set[str]) -> list[tuple[int, str]]:
    """(line, imported module) for every import in the file, nested ones included.

    ``from pkg import x`` counts as ``pkg.x`` when that is a module, else as ``pkg``; relative
    imports are resolved against ``name``; ``importlib.import_module("...")`` with a literal counts too.
    """
    is_pkg = path.name == "__init__.py"
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")[: len(name.split(".")) - node.level + (1 if is_pkg else 0)]
                base = ".".join(anchor + ([base] if base else []))
            out += [(node.lineno, f"{base}.{a.name}" if f"{base}.{a.name}" in known else base) for a in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) in
              ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant)):
            out.append((node.lineno, str(node.args[0].value)))
    return out


def unit_of(module: str, layers: dict[str, int]) -> str | None:
    """The longest unit in ``layers`` that ``module`` is or lies inside."""
    hits = [u for u in layers if module == u or module.startswith(u + ".")]
    return max(hits, key=len) if hits else None


def check(package: Path, layers: dict[str, int]) -> tuple[list[str], dict[str, set[str]]]:
    """Violations (one line each) and the unit-level import graph of ``package``."""
    mods = modules(package)
    problems, graph = [], {}
    for name, path in mods.items():
        unit = unit_of(name, layers)
        if unit is None:
            problems.append(f"{name} has no layer: add it to the table in docs/architecture.md")
            continue
        for line, target in sorted(set(imports_of(name, path, set(mods)))):
            other = unit_of(target, layers) if target.split(".")[0] == package.name else None
            if other is None or other == unit:
                continue
            graph.setdefault(unit, set()).add(other)
            if layers[other] > layers[unit]:
                problems.append(f"{path.relative_to(package.parent)}:{line} imports {target} "
                                f"(layer {layers[other]}) from layer {layers[unit]}")
    return problems, graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, as a path that ends where it starts, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(u: str, path: list[str]) -> list[str] | None:
        state[u] = 1
        for v in sorted(graph.get(u, ())):
            if state.get(v) == 1:
                return path[path.index(v):] + [v] if v in path else [u, v, u]
            if v not in state and (found := visit(v, path + [v])):
                return found
        state[u] = 2
        return None

    for u in sorted(graph):
        if u not in state and (found := visit(u, [u])):
            return found
    return None


def test_the_table_covers_the_package_and_nothing_else():
    layers = read_layers(TABLE.read_text())
    assert len(set(layers.values())) >= 6, "could not read the layer table in docs/architecture.md"
    names = set(modules(PACKAGE))
    stale = [u for u in layers if u not in names]
    assert not stale, f"docs/architecture.md lists modules that do not exist: {stale}"


def test_imports_point_down():
    problems, _ = check(PACKAGE, read_layers(TABLE.read_text()))
    assert not problems, "\n".join(problems)


def test_packages_of_a_layer_do_not_import_each_other_in_a_cycle():
    _, graph = check(PACKAGE, read_layers(TABLE.read_text()))
    assert cycle(graph) is None, f"import cycle: {' -> '.join(cycle(graph))}"


# The checker itself, on a fake package: it must see what a reviewer would.

@pytest.fixture
def fake(tmp_path) -> Path:
    pkg = tmp_path / "pkg"
    for d in ("low", "high"):
        (pkg / d).mkdir(parents=True)
        (pkg / d / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "high" / "b.py").write_text("from pkg.low import a\n")
    return pkg


LAYERS = {"pkg": 0, "pkg.low": 1, "pkg.high": 2}


@pytest.mark.parametrize("source", [
    "def f():\n    from pkg.high import b\n",      # inside a function
    "import pkg.high.b as hb\n",
    "from pkg import high\n",                        # a subpackage imported by name
    "from ..high import b\n",                        # relative
    "import importlib\nM = importlib.import_module('pkg.high.b')\n",
])
def test_the_checker_catches_an_import_from_a_higher_layer(fake, source):
    (fake / "low" / "a.py").write_text(source)
    problems, _ = check(fake, LAYERS)
    assert len(problems) == 1 and problems[0].startswith("pkg/low/a.py:") and "(layer 2) from layer 1" in problems[0]


def test_the_checker_allows_downward_imports_and_names_unplaced_modules(fake):
    (fake / "low" / "a.py").write_text("from pkg import low\nimport os\n")
    assert check(fake, LAYERS)[0] == []
    (fake / "extra.py").write_text("")
    problems, _ = check(fake, {"pkg.low": 1, "pkg.high": 2})
    assert sorted(p.split(":")[0] for p in problems) == ["pkg has no layer", "pkg.extra has no layer"]


def test_the_checker_finds_a_cycle_within_a_layer(fake):
    (fake / "low" / "a.py").write_text("def f():\n    from pkg.high import b\n")
    problems, graph = check(fake, {"pkg": 0, "pkg.low": 1, "pkg.high": 1})
    assert problems == [] and cycle(graph) == ["pkg.high", "pkg.low", "pkg.high"]
    assert cycle({"x": {"y"}, "y": set()}) is None


def test_the_table_is_read_from_markdown_rows():
    text = "| # | layer | modules | why |\n|---|---|---|---|\n| 0 | core | `a` `a.b` | x `c` |\n| 3 | top | `d` | y |\n"
    assert read_layers(text) == {"a": 0, "a.b": 0, "d": 3}
