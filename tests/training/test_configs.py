"""Every config in conf/ composes: each top-level config with each option of each group on disk.

Groups are found on disk, so options other parts add (conf/predictor/*, conf/recipe/*,
conf/hydra/launcher/*, ...) are covered without editing this file. A group in a top-level
config's defaults list is swapped (``group=option``) and the result fully resolved; any other
group is appended (``+group=option``) and only composed. Launchers are composed, not instantiated.
"""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

CONF = Path(__file__).resolve().parents[2] / "conf"


def top_level() -> list[str]:
    return sorted(p.stem for p in CONF.glob("*.yaml"))


def groups() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in sorted(CONF.rglob("*.yaml")):
        if p.parent != CONF:
            out.setdefault(p.parent.relative_to(CONF).as_posix(), []).append(p.stem)
    return out


def default_groups(config: str) -> set[str]:
    """Group names in a top-level config's defaults list (``- model: metad2a`` -> "model")."""
    entries = OmegaConf.to_container(OmegaConf.load(CONF / f"{config}.yaml")).get("defaults", [])
    return {next(iter(e)).lstrip("+/").split("@")[0].removeprefix("override ").strip()
            for e in entries if isinstance(e, dict)}


def test_there_is_something_to_compose():
    assert {"train", "generate"} <= set(top_level())
    assert {"model", "data", "trainer", "logger", "predictor"} <= set(groups())


@pytest.mark.parametrize("config", top_level())
def test_every_option_composes(config):
    used = default_groups(config)
    with initialize_config_dir(str(CONF), version_base="1.3"):
        OmegaConf.to_container(compose(config), resolve=True)
        for group, options in groups().items():
            for option in options:
                where = f"{config}.yaml with {group}={option}"
                if group.startswith("hydra/"):  # composed; a launcher is never instantiated here
                    cfg = compose(config, overrides=[f"{group}={option}"], return_hydra_config=True)
                    assert "_target_" in OmegaConf.select(cfg, group.replace("/", ".")), where
                    continue
                cfg = compose(config, overrides=[f"{'' if group in used else '+'}{group}={option}"])
                assert OmegaConf.select(cfg, group.replace("/", ".")) is not None, where
                if group in used:
                    OmegaConf.to_container(cfg, resolve=True)
