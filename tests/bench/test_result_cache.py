"""The benchmark's per-(method, task) result cache: reuse on a matching key only."""

import json

import numpy as np

from metad2a.bench.app import run
from metad2a.bench.ground_truth import GroundTruth
from metad2a.bench.methods import Oracle, RandomChoice
from metad2a.bench.result_cache import ResultCache, method_key
from metad2a.bench.runner import run_method
from metad2a.space import unique_cells
from tests.bench.conftest import compose_bench, make_task

ARCHS = list(unique_cells()[:5])
ACCS = [60.0, 70.0, 65.0, 90.0, 50.0]


def test_a_stored_result_round_trips_with_nan_scores(tmp_path):
    task = make_task(ARCHS, ACCS, {a: 1.0 for a in ARCHS})
    with GroundTruth(tmp_path / "gt") as truth:
        r = run_method(RandomChoice(), task, truth, [0, 1], timing_repeats=2)
    assert np.isnan(r.summary["spearman"])  # random gives no scores
    cache = ResultCache(tmp_path / "c", {"random": method_key("random", {"_target_": "x"}, [0, 1], 2)})
    assert cache.get("random", task) is None
    cache.put("random", task, r)
    back = cache.get("random", task)
    assert (cache.hits, cache.misses) == (1, 1)
    assert back.runs[0]["pick"] is None and np.isnan(back.runs[0]["spearman"]) and np.isnan(back.summary["spearman"])
    assert back.summary["accuracy"] == r.summary["accuracy"] and back.timings == r.timings


def test_a_changed_task_config_seed_or_file_is_a_miss_and_a_torn_file_too(tmp_path):
    task = make_task(ARCHS, ACCS, {a: 1.0 for a in ARCHS})
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"one")
    conf = {"_target_": "m", "predictor": str(ckpt)}
    key = method_key("m", conf, [0], 3)
    with GroundTruth(tmp_path / "gt") as truth:
        r = run_method(Oracle(), task, truth, [0], 3)
    ResultCache(tmp_path / "c", {"m": key}).put("m", task, r)
    assert ResultCache(tmp_path / "c", {"m": key}).get("m", task) is not None
    assert method_key("m", conf | {"num_samples": 5}, [0], 3) != key
    assert method_key("m", conf, [0, 1], 3) != key
    ckpt.write_bytes(b"two")  # a retrained checkpoint
    assert ResultCache(tmp_path / "c", {"m": method_key("m", conf, [0], 3)}).get("m", task) is None
    other = make_task(ARCHS, [61.0] + ACCS[1:])  # the task's ground truth changed
    assert ResultCache(tmp_path / "c", {"m": key}).get("m", other) is None
    path = ResultCache(tmp_path / "c", {"m": key}).path("m", task)
    path.write_text(path.read_text()[:20])
    assert ResultCache(tmp_path / "c", {"m": key}).get("m", task) is None


def test_a_rerun_on_the_same_cache_reuses_every_result(tiny_meta_data, tmp_path):
    common = [f"meta_data_dir={tiny_meta_data}", "logger=none", "progress=false", "only=[metad2a,random]",
              f"ground_truth.cache_dir={tmp_path / 'gt'}", f"result_cache={tmp_path / 'cache'}"]
    first = run(compose_bench(*common, f"out_dir={tmp_path / 'a'}"))
    second = run(compose_bench(*common, f"out_dir={tmp_path / 'b'}"))
    assert first["results_reused"] == 0 and second["results_reused"] == 2 * 2  # 2 methods x 2 tasks
    a = json.loads((tmp_path / "a" / "transfer.json").read_text())["datasets"]
    b = json.loads((tmp_path / "b" / "transfer.json").read_text())["datasets"]
    assert a == b  # the same numbers, timings included
    third = run(compose_bench(*common, f"out_dir={tmp_path / 'c'}", "seeds=[0]"))
    assert third["results_reused"] == 0  # other seeds: recomputed


def test_a_changed_table_or_held_out_checkpoint_is_a_miss(tmp_path):
    from metad2a.bench.result_cache import task_key
    from metad2a.bench.tasks import TruthTable
    from tests.bench.conftest import make_table_task

    table = TruthTable("t", ARCHS, np.array(ACCS))
    key = task_key(make_table_task(table))
    assert task_key(make_table_task(TruthTable("t", ARCHS, np.array(ACCS)))) == key
    assert task_key(make_table_task(TruthTable("t", ARCHS, np.array(ACCS[:-1] + [51.0])))) != key

    task = make_task(ARCHS, ACCS)
    plain = task_key(task)
    for f in ("predictor.pt", "predictor_agnostic.pt", "generator.pt"):
        (tmp_path / f).write_bytes(b"one")
    task.checkpoint_dir = str(tmp_path)
    own = task_key(task)
    (tmp_path / "generator.pt").write_bytes(b"two")  # the held-out domain's model was retrained
    assert len({plain, own, task_key(task)}) == 3
