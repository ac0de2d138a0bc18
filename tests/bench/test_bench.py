"""The benchmark end to end on the tiny synthetic meta_data/: outputs, protocol, cache, CLI, configs."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from metad2a.bench.app import bench_main, run
from metad2a.space import canonical_form
from tests.bench.conftest import CELLS_PER_TASK, CONF, compose_bench, fake_table_accuracy, full_overrides

REPO = Path(__file__).resolve().parents[2]
ALL = ["metad2a", "meta_exhaustive", "generator_only", "meta_agnostic", "nb201_in16_lookup", "graf_in16", "graf_rf",
       "naswot_100", "naswot_evaluated", "anasod", "random", "oracle"]
STOCHASTIC = {"metad2a", "generator_only", "naswot_100", "naswot_evaluated", "graf_rf", "graf_in16", "anasod"}


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_every_method_on_every_kind_of_dataset_then_a_rerun_trains_nothing(tiny_meta_data, fake_shared, tmp_path):
    """CIFAR-100 with a (fake) table truth, a held-out domain with its own checkpoints, the v1 row."""
    from metad2a.space import unique_cells

    before = snapshot(tiny_meta_data)
    common = [*full_overrides(tiny_meta_data, fake_shared), "logger=none", "progress=false",
              f"ground_truth.cache_dir={tmp_path / 'gt'}",
              "methods.graf_rf.leave_out_held_out=false"]  # the only train tasks are the held-out domain's
    first = run(compose_bench(*common, f"out_dir={tmp_path / 'a'}"))
    out = tmp_path / "a"
    for name in ("transfer.md", "transfer.json", "transfer_scores.json"):
        assert (out / name).stat().st_size > 0
    for name in ("accuracy_vs_search_s.png", "meta_rank_scatter.png", "regret_by_dataset.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    doc = json.loads((out / "transfer.json").read_text())
    tasks = {t["name"]: t for t in doc["protocol"]["tasks"]}
    lodo = [n for n, t in tasks.items() if t["dataset"] == "lodo-synthetic"]
    within = [n for n, t in tasks.items() if t["dataset"] == "synthetic-test"]
    assert len(lodo) == 4 and len(within) == 2 and set(tasks) == {"cifar100", *lodo, *within}
    assert all(tasks[n]["checkpoint_dir"] == str(tiny_meta_data / "lodo" / "synthetic")
               and tasks[n]["held_out_source"] == "synthetic" for n in lodo)
    assert all(tasks[n]["checkpoint_dir"] is None and tasks[n]["seeds"] == [0, 1] for n in within)
    assert doc["truth"] == {"cifar100": "nb201-cifar100", "lodo-synthetic": "mini", "synthetic-test": "mini"}
    for name, rows in doc["datasets"].items():
        assert list(rows) == ALL
        for m, r in rows.items():
            assert r["truth"] == ("nb201-cifar100" if name == "cifar100" else "mini")
            assert {"accuracy", "percentile", "regret", "spearman", "kendall", "search_s", "cells_trained"} <= set(r)
            assert r["n_seeds"] == (2 if m in STOCHASTIC else 1) and len(r["runs"]) == r["n_seeds"]
            assert 0.0 <= r["percentile"] <= 100.0 and r["search_s"] >= 0.0
        assert rows["oracle"]["regret"] == 0.0 and rows["random"]["spearman"] is None
        assert rows["nb201_in16_lookup"]["spearman"] is not None and rows["metad2a"]["spearman"] is not None
        assert rows["meta_exhaustive"]["runs"][0]["candidates"] == 6466
    for name in (*lodo, *within):
        rows = doc["datasets"][name]
        assert rows["oracle"]["cells_trained"] == CELLS_PER_TASK and rows["anasod"]["cells_trained"] == 3

    # CIFAR-100: the fake table is the truth of every pick; nothing trained for it
    table = {a: tuple(round(v, 4) for v in fake_table_accuracy(a)) for a in unique_cells()}  # as in the CSV
    c100 = np.array([v[0] for v in table.values()])
    rows = doc["datasets"]["cifar100"]
    lookup = max(table, key=lambda a: table[a][1])
    assert rows["nb201_in16_lookup"]["picks"] == [lookup] and rows["nb201_in16_lookup"]["cells_trained"] == 0
    assert rows["nb201_in16_lookup"]["accuracy"] == pytest.approx(table[lookup][0], abs=1e-4)
    below = (c100 < table[lookup][0]).sum()
    assert rows["nb201_in16_lookup"]["percentile"] == pytest.approx(100 * below / (len(c100) - 1))
    assert rows["oracle"]["accuracy"] == pytest.approx(c100.max(), abs=1e-4)
    assert rows["oracle"]["cells_trained"] == len(table) and rows["oracle"]["percentile"] == 100.0
    assert rows["random"]["accuracy"] == pytest.approx(c100.mean(), abs=1e-4)
    for m in ("metad2a", "generator_only", "meta_exhaustive"):  # picks anywhere in the space: all evaluated
        assert all(r["evaluated"] for r in rows[m]["runs"])
    assert rows["naswot_evaluated"]["runs"][0]["scored"] == 8  # tiny.yaml's max_cells
    assert not any("meta-test" in p.name for p in (tmp_path / "gt").iterdir())
    assert {p.name for p in (tmp_path / "gt").iterdir() if p.suffix == ".sqlite"} == {
        f"extra-meta-train-mini-{tasks[within[0]]['recipe_hash']}.sqlite"}

    assert set(doc["aggregates"]) == {"lodo-synthetic", "synthetic-test"}
    ranks = doc["mean_rank"]
    assert ranks["datasets"] == ["cifar100", "lodo-synthetic", "synthetic-test"]
    assert set(ranks["methods"]) == set(ALL) and all(r["n_datasets"] == 3 for r in ranks["methods"].values())
    assert ranks["methods"]["oracle"]["ranks"]["cifar100"] == 1.0
    targets = {(t["target"], t["dataset"]): t for t in doc["targets"]}
    t = targets[("CIFAR-100 pick >= 72.5%", "cifar100")]
    assert t["met"] is False and t["by"] == pytest.approx(rows["metad2a"]["accuracy"] - 72.5)
    stretch = targets[("CIFAR-100 pick >= the ImageNet16-120 lookup's (stretch)", "cifar100")]
    assert stretch["threshold"] == rows["nb201_in16_lookup"]["accuracy"]
    assert ("Spearman >= 0.7", "lodo-synthetic") in targets and ("Spearman >= 0.7", "synthetic-test") not in targets
    rival = targets[("mean rank ahead of nb201_in16_lookup (lower is better)", None)]
    assert rival["by"] == pytest.approx(ranks["methods"]["nb201_in16_lookup"]["mean_rank"]
                                        - ranks["methods"]["metad2a"]["mean_rank"])
    assert any("naswot_evaluated on cifar100" in n for n in doc["notes"])
    md = (out / "transfer.md").read_text()
    for line in ("## cifar100 (truth: nb201-cifar100", "## lodo-synthetic (truth: mini", "## synthetic-test (truth: mini",
                 "## Mean rank across held-out datasets", "## Targets", "| nb201_in16_lookup |"):
        assert line in md, line

    assert first["trained"] > 0  # picks outside the evaluated cells of the trained tasks
    # every method again from scratch (another out_dir: no result cache), CIFAR-100 aside (it trains nothing)
    second = run(compose_bench(*common, f"out_dir={tmp_path / 'b'}", "datasets.table=[]"))
    assert second["trained"] == 0 and second["reused"] >= first["trained"] and second["results_reused"] == 0
    again = json.loads((tmp_path / "b" / "transfer.json").read_text())
    for name, rows in doc["datasets"].items():
        if name == "cifar100":
            continue
        for m in ALL:
            assert again["datasets"][name][m]["accuracy"] == rows[m]["accuracy"], (name, m)
    assert snapshot(tiny_meta_data) == before  # meta_data/ is read, never written


def test_cli_logs_each_method_to_wandb_offline_in_one_group(tiny_meta_data, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "WANDB_DIR"} | {
        "WANDB_MODE": "offline", "WANDB_SILENT": "true", "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "metad2a.bench", "--config-name", "tiny", f"meta_data_dir={tiny_meta_data}",
           f"out_dir={tmp_path / 'out'}", "only=[random,oracle]", "logger=wandb", "wandb_group=bench-test-group",
           f"hydra.run.dir={tmp_path / 'hydra'}"]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "results in" in done.stdout
    runs = sorted((tmp_path / "out" / "wandb").glob("offline-run-*"))
    assert len(runs) == 2  # one run per method
    for r in runs:
        assert b"bench-test-group" in next(r.glob("*.wandb")).read_bytes()
    doc = json.loads((tmp_path / "out" / "transfer.json").read_text())
    assert doc["protocol"]["wandb_group"] == "bench-test-group"
    assert doc["protocol"]["command"].startswith("python -m metad2a.bench --config-name tiny")


def test_bad_input_is_one_actionable_line(tmp_path, capsys):
    assert bench_main(compose_bench(f"meta_data_dir={tmp_path}", "logger=none")) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not found" in err and "metad2a.collect" in err
    assert bench_main(compose_bench(f"meta_data_dir={tmp_path}", "logger=none", "only=[nope]")) == 1
    assert "unknown methods ['nope']" in capsys.readouterr().err


@pytest.mark.parametrize("config", ["default", "tiny"])
def test_configs_compose_resolve_and_build_every_method(config):
    for logger in ("wandb", "none"):
        cfg = compose_bench(f"logger={logger}", config=config)
        resolved = OmegaConf.to_container(cfg, resolve=True)
        assert resolved["logger"]["name"] == logger
    assert list(cfg.methods) == ALL
    on_disk = {p.stem for p in (CONF / "method").glob("*.yaml")}
    assert on_disk == set(ALL) and "graf_nb201_prior" not in on_disk  # retired: CIFAR-100's column is truth
    for name in ALL:  # building a method touches no checkpoint or database
        method = instantiate(cfg.methods[name])
        assert hasattr(method, "run") and method.stochastic == (name in STOCHASTIC)


def _strings(node) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


@pytest.mark.parametrize("config", ["default", "tiny"])
def test_no_method_config_names_the_cifar100_column(config):
    methods = OmegaConf.to_container(compose_bench(config=config).methods, resolve=True)
    for name, node in methods.items():
        assert not [v for v in _strings(node) if "cifar100" in v.lower()], name
    assert methods["graf_in16"]["fit_column"] == methods["nb201_in16_lookup"]["column"] == "imagenet16_120_test"


def test_no_method_reads_the_cifar100_column(tmp_path):
    """Two NB201 tables that differ only in the CIFAR-100 column: every table-reading method answers the same."""
    from metad2a.bench.tasks import TruthTable
    from metad2a.space import unique_cells
    from tests.bench.conftest import make_table_task

    cells = list(unique_cells()[:40])
    roots = []
    for flip in (1.0, -1.0):
        root = tmp_path / f"shared{flip:+.0f}"
        lines = ["index,arch,cifar100_test,imagenet16_120_test"]
        lines += [f"{i},{a},{50 + flip * fake_table_accuracy(a)[0]:.4f},{fake_table_accuracy(a)[1]:.4f}"
                  for i, a in enumerate(cells)]
        (root / "nb201").mkdir(parents=True)
        (root / "nb201" / "nb201_test_accuracy.csv").write_text("\n".join(lines) + "\n")
        roots.append(root)
    task = make_table_task(TruthTable("t", cells, np.arange(len(cells), dtype=float)))
    answers = []
    for root in roots:
        cfg = compose_bench(f"data_root={root}", "methods.graf_in16.fit_cells=30", config="default")
        runs = [instantiate(cfg.methods[m]).run(task, 0) for m in ("nb201_in16_lookup", "graf_in16")]
        answers.append([(r.picks, list(np.round(r.scores, 9))) for r in runs])
    assert answers[0] == answers[1]


def test_methods_refuse_the_cifar100_column():
    from metad2a.bench.methods import GRAF, TableLookup
    from metad2a.bench.tasks import TRUTH_COLUMNS
    from metad2a.database.tasks import MetaTestLeakError

    assert TRUTH_COLUMNS == {"cifar100_test"}
    with pytest.raises(MetaTestLeakError, match="meta-test truth"):
        TableLookup(column="cifar100_test")
    with pytest.raises(MetaTestLeakError, match="meta-test truth"):
        GRAF(fit_column="cifar100_test")


def test_meta_test_datasets_with_real_images(shared_data, tiny_meta_data, tmp_path):
    """The meta-test path: a meta-test store of MNIST and Fashion-MNIST, targets in the report."""
    from metad2a.collect import collect, plan_cells, plan_jobs
    from metad2a.database.features_store import build_feature_file
    from metad2a.database.tasks import meta_test_tasks
    from tests.bench.conftest import RECIPE, pixel_stats

    md = tmp_path / "meta_data"
    tasks = meta_test_tasks(RECIPE.train_per_class, RECIPE.test_per_class, datasets=["mnist", "fashion-mnist"])
    cells = {t.task_id: plan_cells(t.task_id, 5) for t in tasks}
    collect(md / "meta-test.sqlite", plan_jobs(tasks, cells, [0, 1]), RECIPE, role="meta-test",
            data_root=shared_data, progress=False)
    build_feature_file(md / "features_meta-test.npz", tasks, pixel_stats, n_per_class=3, image_size=8,
                       root=shared_data, meta_test_ok=True)
    cfg = compose_bench(f"meta_data_dir={md}", f"checkpoint_dir={tiny_meta_data / 'checkpoints'}",
                        f"data_root={shared_data}", f"out_dir={tmp_path / 'out'}", "logger=none", "progress=false",
                        "datasets.meta_test=[mnist,fashion-mnist]", "datasets.split=null",
                        "only=[metad2a,meta_agnostic,naswot_evaluated,random,oracle]")
    run(cfg)
    doc = json.loads((tmp_path / "out" / "transfer.json").read_text())
    assert list(doc["datasets"]) == ["mnist", "fashion-mnist"] and doc["aggregates"] == {}
    assert doc["truth"] == {"mnist": "mini", "fashion-mnist": "mini"}
    assert all(t["role"] == "meta-test" and t["n_cells"] == 5 for t in doc["protocol"]["tasks"])
    targets = doc["targets"]
    for name in ("mnist", "fashion-mnist"):
        s = doc["datasets"][name]["metad2a"]
        top5 = next(t for t in targets if t["dataset"] == name and t["target"].startswith("pick in the top 5%"))
        assert top5["met"] == (s["percentile"] >= 95.0) and top5["by"] == pytest.approx(s["percentile"] - 95.0)
        rho = next(t for t in targets if t["dataset"] == name and t["target"] == "Spearman >= 0.7")
        assert rho["value"] == s["spearman"]
    rivals = [t["target"] for t in targets if t["target"].startswith("mean rank ahead of")]
    assert rivals == ["mean rank ahead of naswot_evaluated (lower is better)",
                      "mean rank ahead of meta_agnostic (lower is better)"]
    report = (tmp_path / "out" / "transfer.md").read_text()
    assert "## Targets" in report and "## mnist (truth: mini; 5 evaluated cells, seeds [0, 1])" in report
    assert not list((tmp_path / "out" / "ground_truth").glob("extra-meta-train-*.sqlite"))


def test_a_tie_in_mean_rank_is_not_ahead():
    from metad2a.bench.report import _target

    assert _target("ahead", None, 5.0, 5.0, higher_is_better=False, strict=True)["met"] is False
    assert _target("ahead", None, 4.5, 5.0, higher_is_better=False, strict=True)["met"] is True
    assert _target("at least", None, 72.88, 72.88)["met"] is True  # ">=" targets keep ties
