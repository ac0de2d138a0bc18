"""Every config in conf/ composes, and the schemas refuse what they should.

Two config roots: ``conf/`` (train, generate, collect) and ``conf/bench/`` (the benchmark's own
root, with its own groups). For each top-level config, every option of every group in its
defaults list is swapped in and the result fully resolved; every group on disk must be used by
some top-level config of its root. Launchers (``hydra/launcher``) are composed, not instantiated.
The schemas (``train_schema``, ... registered in tests/conftest.py, as each entry point does)
refuse wrong types and unknown keys at composition, and ``+key=...`` additions in our code.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from omegaconf import OmegaConf
from omegaconf.errors import ValidationError

from metad2a.bench.config import BenchConfig
from metad2a.collect_config import CollectConfig
from metad2a.errors import ConfigError
from metad2a.generation.config import GenerateConfig
from metad2a.schema import refuse_unknown_keys, unknown_keys
from metad2a.training.config import TrainConfig, train_settings

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "conf"
BENCH = CONF / "bench"
ROOTS = {"conf": CONF, "bench": BENCH}
SCHEMAS = {"train": TrainConfig, "generate": GenerateConfig, "collect": CollectConfig, "collect_v1": CollectConfig,
           "default": BenchConfig,
           "tiny": BenchConfig}


def top_level(root: Path) -> list[str]:
    return sorted(p.stem for p in root.glob("*.yaml"))


def groups(root: Path) -> dict[str, list[str]]:
    """{group path: options} under ``root``, leaving out the folders of another root."""
    others = [r for r in ROOTS.values() if r != root and root in r.parents]
    out: dict[str, list[str]] = {}
    for p in sorted(root.rglob("*.yaml")):
        if p.parent != root and not any(o == p.parent or o in p.parent.parents for o in others):
            out.setdefault(p.parent.relative_to(root).as_posix(), []).append(p.stem)
    return out


def default_groups(root: Path, config: str) -> dict[str, str]:
    """{group: package override} of a top-level config's defaults list, its parents' included.

    ``- model: metad2a`` -> {"model": "model"}; ``- method@methods.x: x`` -> {"method": "method@methods.x"}.
    """
    out: dict[str, str] = {}
    for e in OmegaConf.to_container(OmegaConf.load(root / f"{config}.yaml")).get("defaults", []):
        if isinstance(e, dict):
            key = next(iter(e)).lstrip("+/").removeprefix("override ").strip()
            out.setdefault(key.split("@")[0], key)
        elif isinstance(e, str) and (root / f"{e}.yaml").is_file():
            out = default_groups(root, e) | out
    return out


def cases() -> list[tuple[str, str]]:
    return [(name, c) for name, root in ROOTS.items() for c in top_level(root)]


def test_there_is_something_to_compose():
    assert {"train", "generate", "collect"} <= set(top_level(CONF)) and {"default", "tiny"} <= set(top_level(BENCH))
    assert {"model", "data", "trainer", "logger", "predictor", "recipe", "hydra/launcher"} <= set(groups(CONF))
    assert set(groups(BENCH)) == {"logger", "method"} and not any(g.startswith("bench") for g in groups(CONF))


@pytest.mark.parametrize("root, config", cases())
def test_every_option_composes(root, config):
    root = ROOTS[root]
    used = default_groups(root, config)
    with initialize_config_dir(str(root), version_base="1.3"):
        OmegaConf.to_container(compose(config), resolve=True)
        for group, options in groups(root).items():
            for option in options:
                where = f"{config}.yaml with {group}={option}"
                if group.startswith("hydra/"):  # composed; a launcher is never instantiated here
                    cfg = compose(config, overrides=[f"{group}={option}"], return_hydra_config=True)
                    assert "_target_" in OmegaConf.select(cfg, group.replace("/", ".")), where
                elif group in used:
                    cfg = compose(config, overrides=[f"{used[group]}={option}"])
                    OmegaConf.to_container(cfg, resolve=True)
                    assert unknown_keys(cfg, SCHEMAS[config]) == [], where


@pytest.mark.parametrize("root", ROOTS)
def test_every_group_is_used_by_a_top_level_config(root):
    root = ROOTS[root]
    used = set().union(*(default_groups(root, c) for c in top_level(root)))
    unused = {g for g in groups(root) if not g.startswith("hydra/")} - used
    assert not unused, f"groups no top-level config of {root} names: {unused}"


def composed(root: Path, config: str, *overrides: str):
    with initialize_config_dir(str(root), version_base="1.3"):
        return compose(config, overrides=list(overrides))


@pytest.mark.parametrize("root, config, override, key", [
    (CONF, "train", "trainer.epochs=abc", "trainer.epochs"),
    (CONF, "train", "trainer.lr=fast", "trainer.lr"),
    (CONF, "train", "model.hidden_dim=big", "model.hidden_dim"),
    (CONF, "train", "trainer.resume=maybe", "trainer.resume"),
    (CONF, "train", "seed=one", "seed"),
    (CONF, "generate", "top_k=ten", "top_k"),
    (CONF, "generate", "data.images_per_class=many", "data.images_per_class"),
    (CONF, "collect", "max_runs=many", "max_runs"),
    (CONF, "collect", "cells.per_task=x", "cells.per_task"),
    (BENCH, "default", "seeds=[a]", "seeds"),
    (BENCH, "tiny", "datasets.max_tasks=two", "datasets.max_tasks"),
])
def test_wrong_types_are_refused_by_hydra(root, config, override, key):
    with pytest.raises(ConfigCompositionException) as e:
        composed(root, config, override)
    assert isinstance(e.value.__cause__, ValidationError) and key in str(e.value.__cause__)


@pytest.mark.parametrize("root, config, override", [
    (CONF, "train", "model.hiden_dim=64"),
    (CONF, "train", "trainer.epoch=5"),
    (CONF, "generate", "data.colour=red"),
    (CONF, "collect", "tasks.nmu=3"),
    (BENCH, "default", "datasets.splits=test"),
])
def test_unknown_keys_are_refused_by_hydra(root, config, override):
    with pytest.raises(ConfigCompositionException):
        composed(root, config, override)


def test_a_misspelt_key_in_a_yaml_file_is_refused(tmp_path):
    """A user's own conf/trainer/*.yaml with a typo used to be dropped without a word."""
    conf = tmp_path / "conf"
    conf.mkdir()
    for d in ("model", "data", "logger"):
        (conf / d).symlink_to(CONF / d, target_is_directory=True)
    (conf / "trainer").mkdir()
    (conf / "trainer" / "mine.yaml").write_text("epochs: 3\nbatch_taks: 4\n")
    (conf / "train.yaml").write_text((CONF / "train.yaml").read_text().replace("trainer: default", "trainer: mine"))
    with pytest.raises(ConfigCompositionException) as e:
        composed(conf, "train")
    assert "Key 'batch_taks' not in 'TrainerConfig'" in str(e.value)


@pytest.mark.parametrize("root, config, schema, override, key", [
    (CONF, "train", TrainConfig, "+model.hiden_dim=64", "model.hiden_dim"),
    (CONF, "train", TrainConfig, "+trainer.epoch=5", "trainer.epoch"),
    (CONF, "train", TrainConfig, "+sed=1", "sed"),
    (CONF, "generate", GenerateConfig, "+network.c=8", "network.c"),
    (CONF, "collect", CollectConfig, "+noise.seed=1", "noise.seed"),
    (BENCH, "default", BenchConfig, "+ground_truth.devise=cpu", "ground_truth.devise"),
])
def test_keys_added_with_plus_are_refused_in_one_line(root, config, schema, override, key):
    cfg = composed(root, config, override)  # Hydra inserts a +key even into a structured node
    with pytest.raises(ConfigError) as e:
        refuse_unknown_keys(cfg, schema)
    assert str(e.value).startswith(key + " is not a setting") and "\n" not in str(e.value)
    # free-form nodes (a _target_'s arguments) are left to their target
    assert unknown_keys({"data": {"anything": 1}}, TrainConfig) == []


@pytest.mark.parametrize("override, says", [
    ("trainer.batch_tasks=0", "trainer.batch_tasks=0: must be at least 1"),
    ("trainer.lr=0", "trainer.lr=0.0: must be > 0"),
    ("trainer.top_frac=1.5", "trainer.top_frac=1.5"),
    ("model.heads=3", "not divisible by model.heads=3"),
    ("model.rank_loss=hinge", "model.rank_loss=pairwise or listnet"),
    ("model.cell_features=zc", "model.cell_features=none or graf"),
])
def test_cross_field_checks_are_one_line(override, says):
    with pytest.raises(ConfigError) as e:
        train_settings(composed(CONF, "train", override))
    assert says in str(e.value) and "\n" not in str(e.value)


def run_train(*overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "train.py", "data=synthetic", "logger=none", *overrides], cwd=REPO,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def test_train_cli_refuses_bad_settings_without_a_traceback(tmp_path):
    run = [f"hydra.run.dir={tmp_path / 'run'}", f"checkpoint_dir={tmp_path / 'ck'}"]
    out = run_train("trainer.epochs=abc", *run)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "Value 'abc' of type 'str' could not be converted to Integer" in out.stderr
    assert "full_key: trainer.epochs" in out.stderr
    out = run_train("trainer.batch_tasks=0", *run)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == ["error: trainer.batch_tasks=0: must be at least 1"]
    out = run_train("+model.hiden_dim=64", *run)
    assert out.returncode == 1 and out.stderr.strip().splitlines()[-1].startswith("error: model.hiden_dim is not")
    assert not (tmp_path / "ck").exists()  # refused before any training
