"""The benchmark end to end on the tiny synthetic meta_data/: outputs, protocol, cache, CLI, configs."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from metad2a.bench.app import bench_main, run
from tests.bench.conftest import CELLS_PER_TASK, CONF, compose_bench

REPO = Path(__file__).resolve().parents[2]
ALL = ["metad2a", "meta_exhaustive", "generator_only", "meta_agnostic", "naswot_100", "naswot_evaluated",
       "graf_rf", "graf_nb201_prior", "anasod", "random", "oracle"]
STOCHASTIC = {"metad2a", "generator_only", "naswot_100", "naswot_evaluated", "graf_rf", "graf_nb201_prior", "anasod"}


def snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_every_method_end_to_end_then_a_rerun_trains_nothing(tiny_meta_data, tmp_path, shared_data, monkeypatch):
    monkeypatch.setenv("METAD2A_SHARED_DATA", str(shared_data))  # graf_nb201_prior reads the NB201 table
    before = snapshot(tiny_meta_data)
    common = [f"meta_data_dir={tiny_meta_data}", "logger=none", "progress=false",
              f"ground_truth.cache_dir={tmp_path / 'gt'}"]
    first = run(compose_bench(*common, f"out_dir={tmp_path / 'a'}"))
    out = tmp_path / "a"
    for name in ("transfer.md", "transfer.json", "transfer_scores.json"):
        assert (out / name).stat().st_size > 0
    for name in ("accuracy_vs_search_s.png", "meta_rank_scatter.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    doc = json.loads((out / "transfer.json").read_text())
    tasks = doc["protocol"]["tasks"]
    assert len(tasks) == 2 and all(t["split"] == "test" and t["seeds"] == [0, 1] for t in tasks)
    assert set(doc["datasets"]) == {t["name"] for t in tasks}
    for name, rows in doc["datasets"].items():
        assert list(rows) == ALL
        for m, r in rows.items():
            assert {"accuracy", "percentile", "regret", "spearman", "kendall", "search_s", "cells_trained"} <= set(r)
            assert r["n_seeds"] == (2 if m in STOCHASTIC else 1) and len(r["runs"]) == r["n_seeds"]
            assert 0.0 <= r["percentile"] <= 100.0 and r["search_s"] >= 0.0
        assert rows["oracle"]["regret"] == 0.0 and rows["oracle"]["cells_trained"] == CELLS_PER_TASK
        assert rows["anasod"]["cells_trained"] == 3 and rows["random"]["cells_trained"] == 0
        assert rows["random"]["spearman"] is None and rows["metad2a"]["spearman"] is not None
        assert rows["meta_exhaustive"]["runs"][0]["candidates"] == 6466
    assert set(doc["aggregates"]["synthetic-test"]) == set(ALL)
    assert doc["protocol"]["recipes"] and doc["protocol"]["fingerprints"] and doc["protocol"]["machine"]["summary"]
    md = (out / "transfer.md").read_text()
    assert "## synthetic-test (mean ± std over 2 tasks)" in md and "| metad2a |" in md and "| oracle |" in md

    # meta_exhaustive picks among 6,466 cells: surely outside the 6 evaluated ones, so it was trained
    assert first["trained"] > 0 and first["trained"] % 2 == 0  # every ground-truth seed
    second = run(compose_bench(*common, f"out_dir={tmp_path / 'b'}"))
    assert second["trained"] == 0 and second["reused"] >= first["trained"]
    again = json.loads((tmp_path / "b" / "transfer.json").read_text())
    for name, rows in doc["datasets"].items():
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
    assert on_disk == set(ALL)  # every method config is in the benchmark
    for name in ALL:  # building a method touches no checkpoint or database
        method = instantiate(cfg.methods[name])
        assert hasattr(method, "run") and method.stochastic == (name in STOCHASTIC)


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
    assert all(t["role"] == "meta-test" and t["n_cells"] == 5 for t in doc["protocol"]["tasks"])
    targets = doc["targets"]
    assert set(targets["datasets"]) == {"mnist", "fashion-mnist"}
    assert targets["rivals"] == ["meta_agnostic", "naswot_evaluated"]
    for name, t in targets["datasets"].items():
        s = doc["datasets"][name]
        assert t["top5"] == (s["metad2a"]["percentile"] >= 95.0)
        assert t["beats"] == (s["metad2a"]["accuracy"] > max(s["meta_agnostic"]["accuracy"],
                                                             s["naswot_evaluated"]["accuracy"]))
    assert targets["beats_count"] == sum(t["beats"] for t in targets["datasets"].values())
    report = (tmp_path / "out" / "transfer.md").read_text()
    assert "## Targets (meta-test datasets)" in report and "## mnist (5 evaluated cells, seeds [0, 1])" in report
    assert not (tmp_path / "out" / "ground_truth" / "extra-meta-train.sqlite").exists()
