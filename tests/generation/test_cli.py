"""generate.py's argument rewriting: any file path reaches the config unchanged, without quoting by hand."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser

from metad2a.generation.cli import expand_shorthands, hydra_quote
from tests.generation.conftest import REPO

HOSTILE = ["/data/猫", "/data/a,b", "/data/a=b", "/data/x[1]", "/data/run(2)", "~/imgs", "/d/it's", "/d/a{b}",
           "/d/#1", "/d/a;b&c!", "C:\\data\\", "/d/back\\'slash", "/d/\"q\"", "/d/sp ace", "/d/ü,ß=1"]


def _values(argv: list[str]) -> dict:
    parser = OverridesParser.create()
    return {o.key_or_group: o.value() for o in parser.parse_overrides([a for a in argv if not a.startswith("-")])}


@pytest.mark.parametrize("path", HOSTILE)
def test_any_path_round_trips_through_hydras_grammar(path):
    assert _values(expand_shorthands([f"data={path}"])) == {"data.path": path}
    assert _values([f"x={hydra_quote(path)}"]) == {"x": path}


def test_composed_config_holds_the_paths_unchanged(tmp_path):
    argv = expand_shorthands(["data=/data/猫,a=(1)", "output=/out/[r].json", "data.format=npz", "top_k=3",
                              "predictor=ensemble", "predictor.members.0.checkpoint=/ck/é.pt"])
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        cfg = compose("generate", overrides=argv)
    assert cfg.data.path == "/data/猫,a=(1)" and cfg.output == "/out/[r].json"
    assert cfg.data.format == "npz" and cfg.top_k == 3
    assert cfg.predictor.members[0].checkpoint == "/ck/é.pt"


@pytest.mark.parametrize("argv,expected", [
    (["data.path=/plain"], {"data.path": "/plain"}),  # the long form is quoted too
    (["+data=/x"], {"data.path": "/x"}),
    (["data='/a,b'"], {"data.path": "/a,b"}),  # already quoted: left alone
    (['data="/a b"'], {"data.path": "/a b"}),
    (["data=null"], {"data.path": None}),  # the built-in example
    (["data.format=npz", "top_k=3", "search=exhaustive"], {"data.format": "npz", "top_k": 3, "search": "exhaustive"}),
])
def test_explicit_overrides_keep_working(argv, expected):
    assert _values(expand_shorthands(argv)) == expected


def test_multirun_commas_still_sweep():
    """With -m a comma separates sweep values (a path holding a comma is then quoted by hand)."""
    argv = expand_shorthands(["-m", "data=/sets/猫,/sets/b(2)", "seed=0,1"])
    assert argv[0] == "-m" and argv[2] == "seed=0,1"
    sweep = OverridesParser.create().parse_override(argv[1])
    # each job of the sweep gets one override, as Hydra's launcher builds it
    jobs = [_values([f"data.path={v}"])["data.path"] for v in sweep.sweep_string_iterator()]
    assert jobs == ["/sets/猫", "/sets/b(2)"]
    assert _values(expand_shorthands(["--multirun", "data='/a,b'"])) == {"data.path": "/a,b"}
    assert "glob" in type(_values(expand_shorthands(["-m", "data=glob(/sets/*)"]))["data.path"]).__name__.lower()
