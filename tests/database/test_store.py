import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from metad2a.database.__main__ import main as db_main
from metad2a.database.__main__ import stats
from metad2a.database.features_store import FeatureFile, load_task_data, write_feature_file
from metad2a.database.store import BUSY, CLAIMED, SCHEMA_VERSION, STORED, Store, StoreError, merge
from metad2a.database.tasks import MetaTestLeakError, make_meta_train_tasks, meta_test_tasks
from metad2a.recipe import MINI, recipe_hash

A1 = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|"
A2 = "|skip_connect~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|"
H = recipe_hash(MINI)
TASKS = make_meta_train_tasks(3, k=3, train_per_class=8, test_per_class=4, source="synthetic")


def rec(arch, seed, acc=50.0):
    return {"arch": arch, "seed": seed, "recipe_hash": H, "train_loss": [2.0, 1.5], "test_acc": [40.0, acc],
            "test_loss": [1.9, 1.4], "final_acc": acc, "target": acc - 1, "params": 10, "flops": 20,
            "wall_s": 1.0, "cpu_s": 0.9, "device": "cpu"}


def new_store(path, tasks=TASKS):
    s = Store(path)
    s.add_recipe(MINI)
    s.add_tasks(tasks)
    return s


def test_insert_or_ignore_and_done_keys(tmp_path):
    with new_store(tmp_path / "a.sqlite") as s:
        assert s.add_record(TASKS[0].task_id, rec(A1, 0))
        assert not s.add_record(TASKS[0].task_id, rec(A1, 0, acc=99.0))  # duplicate key: kept first
        assert s.add_record(TASKS[0].task_id, rec(A1, 1))
        assert s.done_keys() == {(TASKS[0].task_id, A1, 0, H), (TASKS[0].task_id, A1, 1, H)}
        (r,) = [r for r in s.records() if r["seed"] == 0]
        assert r["final_acc"] == 50.0 and r["test_acc"] == [40.0, 50.0] and r["host"]
        assert s.con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert [t.task_id for t in s.tasks("train")] == [t.task_id for t in TASKS if t.split == "train"]


def test_roles_keep_meta_test_out_of_meta_training(tmp_path):
    with Store(tmp_path / "train.sqlite") as s, pytest.raises(MetaTestLeakError):
        s.add_tasks(meta_test_tasks())
    with Store(tmp_path / "test.sqlite", role="meta-test") as s:
        s.add_tasks(meta_test_tasks())
        with pytest.raises(StoreError):
            s.add_tasks(TASKS)
    with pytest.raises(StoreError, match="meta-test store"):
        Store(tmp_path / "test.sqlite", role="meta-train")


def test_changed_task_spec_is_refused(tmp_path):
    with new_store(tmp_path / "a.sqlite") as s:
        changed = make_meta_train_tasks(3, k=3, train_per_class=9, test_per_class=4, source="synthetic")
        with pytest.raises(StoreError, match="different spec"):
            s.add_tasks(changed)


def test_merge_two_shards(tmp_path):
    with new_store(tmp_path / "s1.sqlite") as s:
        s.add_record(TASKS[0].task_id, rec(A1, 0))
        s.add_record(TASKS[0].task_id, rec(A2, 0))
        s.set_meta("x", 1)
    with new_store(tmp_path / "s2.sqlite") as s:
        s.add_record(TASKS[0].task_id, rec(A2, 0, acc=70.0))  # same key as in s1
        s.add_record(TASKS[1].task_id, rec(A1, 0))
    assert merge(tmp_path / "all.sqlite", tmp_path / "s1.sqlite", tmp_path / "s2.sqlite") == 3
    assert merge(tmp_path / "all.sqlite", tmp_path / "s1.sqlite", tmp_path / "s2.sqlite") == 0
    with Store(tmp_path / "all.sqlite") as s:
        assert s.count() == 3 and s.get_meta("x") == 1 and len(s.tasks()) == 3
        assert {r["final_acc"] for r in s.records(task_id=TASKS[0].task_id)} == {50.0}
    assert db_main(["merge", str(tmp_path / "all.sqlite"), str(tmp_path / "s2.sqlite")]) == 0


# Subprocess writers import only the store (no torch) so they start fast.
WRITER = """
import sys
from metad2a.database.store import Store
from metad2a.database.tasks import make_meta_train_tasks
task = make_meta_train_tasks(3, k=3, train_per_class=8, test_per_class=4, source="synthetic")[0].task_id
worker, n = int(sys.argv[2]), int(sys.argv[3])
with Store(sys.argv[1], timeout=60) as s:
    i = 0
    while n < 0 or i < n:
        s.add_record(task, {{"arch": {arch!r}, "seed": worker * 100000 + i, "recipe_hash": {h!r},
                             "train_loss": [1.0], "test_acc": [50.0], "test_loss": [1.0], "final_acc": 50.0,
                             "target": 50.0, "params": 1, "flops": 1, "wall_s": 0.1, "device": "cpu"}})
        i += 1
""".format(arch=A1, h=H)


def _spawn(path, worker, n):
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(worker), str(n)])


def test_two_processes_write_one_store(tmp_path):
    path = tmp_path / "shared.sqlite"
    new_store(path).close()
    procs = [_spawn(path, w, 60) for w in range(2)]
    assert [p.wait(60) for p in procs] == [0, 0]
    with Store(path) as s:
        assert s.count() == 120 and len(s.done_keys()) == 120
        assert s.con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_kill_9_mid_write_never_corrupts(tmp_path):
    path = tmp_path / "k.sqlite"
    new_store(path).close()
    p = _spawn(path, 0, -1)  # writes until killed
    deadline = time.time() + 60
    while time.time() < deadline:
        time.sleep(0.2)
        with sqlite3.connect(path, timeout=30) as con:
            if con.execute("SELECT COUNT(*) FROM records").fetchone()[0] >= 20:
                break
    p.send_signal(signal.SIGKILL)
    p.wait()
    with Store(path) as s:
        assert s.con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        n = s.count()
        assert n >= 20 and sorted(k[2] for k in s.done_keys()) == list(range(n))  # a gap-free prefix


def test_load_task_data_averages_seeds(tmp_path):
    with new_store(tmp_path / "db.sqlite") as s:
        s.add_record(TASKS[0].task_id, rec(A1, 0, acc=50.0))
        s.add_record(TASKS[0].task_id, rec(A1, 1, acc=60.0))
        s.add_record(TASKS[0].task_id, rec(A2, 0, acc=30.0))
    classes = {c for t in TASKS for c in t.classes}
    feats = {("synthetic", c): np.full((4, 5), i, np.float32) for i, c in enumerate(sorted(classes))}
    write_feature_file(tmp_path / "f.npz", feats, {"extractor": "test"})
    assert FeatureFile(tmp_path / "f.npz").meta == {"extractor": "test"}
    split = TASKS[0].split
    data = load_task_data(tmp_path / "db.sqlite", tmp_path / "f.npz", split)
    (t,) = [d for d in data if d.task_id == TASKS[0].task_id]
    assert t.features.shape == (3, 4, 5) and t.features.dtype == np.float32
    assert t.archs == sorted([A1, A2])
    assert dict(zip(t.archs, t.accs.tolist())) == {A1: 54.0, A2: 29.0}  # mean target over seeds


def test_feature_keys_escape_slashes(tmp_path):
    write_feature_file(tmp_path / "f.npz", {("fashion-mnist", "T-shirt/top"): np.ones((2, 3))}, {})
    f = FeatureFile(tmp_path / "f.npz")
    assert f.classes() == [("fashion-mnist", "T-shirt/top")]
    assert f.class_features("fashion-mnist", "T-shirt/top").shape == (2, 3)


def test_stats_json_form(tmp_path, capsys):
    with new_store(tmp_path / "mt.sqlite") as s:
        s.add_record(TASKS[0].task_id, rec(A1, 0) | {"cpu_s": 1800.0})
        s.add_record(TASKS[0].task_id, rec(A2, 0))
        s.add_record(TASKS[1].task_id, rec(A1, 0))
        s.set_meta(f"recipe_probe/{H}", {"seed_spearman": 0.85, "fidelity_spearman": 0.72})
    with Store(tmp_path / "test.sqlite", role="meta-test") as s:
        s.add_recipe(MINI)
        s.add_tasks(meta_test_tasks())
        s.add_record("mnist", rec(A1, 0) | {"cpu_s": 5400.0})
        s.add_record("mnist", rec(A1, 1) | {"cpu_s": 0.0})
        s.add_record("mnist", rec(A2, 0) | {"cpu_s": 0.0})  # its seed 1 is still to come: not complete
    (tmp_path / "probe_runs").mkdir()
    (tmp_path / "probe_runs" / "p.jsonl").write_text('{"cpu_s": 1800.0}\n\n{"cpu_s": 1800.0}\n')
    assert db_main(["stats", "--db", str(tmp_path / "mt.sqlite"), "--meta-test-db", str(tmp_path / "test.sqlite"),
                    "--probe", str(tmp_path / "none.json")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"tasks": 3, "records": 3, "cells_per_task": {"min": 1, "median": 1.5}, "recipes": [H],
                   "meta_test": {"cifar10": 0, "mnist": 3, "fashion-mnist": 0},
                   "seed_spearman": 0.85, "seed_spearman_tasks": 0, "fidelity_spearman": 0.72,
                   "truth_recipe": "mini", "by_recipe": {"mini": {"hash": H, "tasks": 2, "records": 3,
                                                                  "cells_per_task_min": 1}},
                   "domains": {"synthetic": {"tasks": 2, "records": 3}},
                   "fidelity": {"imagenet16_120": 0.72, "cifar100": None}, "nb201_tasks": {"imagenet16_120": 0},
                   "meta_test_truth": {"mnist": {"recipe": "mini", "cells": 1, "seeds": 2}},
                   "cpu_hours": {"meta_train": 0.501, "meta_test": 1.5, "probes": 1.0, "total": 3.001}}
    assert stats(tmp_path / "missing.sqlite")["records"] == 0


def test_stats_measures_seed_spearman_on_the_stores_own_repeats(tmp_path):
    from metad2a.space import all_archs

    archs = all_archs()[:8]
    with new_store(tmp_path / "mt.sqlite") as s:
        for i, a in enumerate(archs):  # task 0: seeds agree exactly; task 1: seed 1 reverses seed 0
            s.add_record(TASKS[0].task_id, rec(a, 0, 40.0 + i))
            s.add_record(TASKS[0].task_id, rec(a, 1, 41.0 + i))
            s.add_record(TASKS[1].task_id, rec(a, 0, 40.0 + i))
            s.add_record(TASKS[1].task_id, rec(a, 1, 60.0 - i))
        s.add_record(TASKS[2].task_id, rec(archs[0], 0))  # one seed only: not counted
        s.set_meta(f"recipe_probe/{H}", {"seed_spearman": 0.85, "fidelity_spearman": 0.72})
    out = stats(tmp_path / "mt.sqlite", probe_path=tmp_path / "none.json")
    assert out["seed_spearman_tasks"] == 2 and out["seed_spearman"] == pytest.approx(0.0)
    assert out["fidelity_spearman"] == 0.72


def test_stats_prefer_a_newer_probe_file_over_the_stores_copy(tmp_path):
    with new_store(tmp_path / "mt.sqlite") as s:
        s.add_record(TASKS[0].task_id, rec(A1, 0))
        s.set_meta(f"recipe_probe/{H}", {"seed_spearman": 0.85, "fidelity_spearman": 0.56})
    probe = tmp_path / "probe.json"
    probe.write_text(json.dumps({"chosen": {"recipe_hash": H, "seed_spearman": 0.83, "fidelity_spearman": 0.73}}))
    assert stats(tmp_path / "mt.sqlite", probe_path=probe)["fidelity_spearman"] == 0.73
    probe.write_text(json.dumps({"chosen": {"recipe_hash": "another", "fidelity_spearman": 0.1}}))
    assert stats(tmp_path / "mt.sqlite", probe_path=probe)["fidelity_spearman"] == 0.56


def test_build_feature_file_from_task_images(tmp_path):
    from metad2a.database.features_store import build_feature_file

    def extract(images):  # (N, H, W, 3) uint8 -> (N, 6): mean colour and its square
        m = images.reshape(len(images), -1, 3).mean(1) / 255.0
        return np.concatenate([m, m**2], 1)

    build_feature_file(tmp_path / "f.npz", TASKS, extract, n_per_class=5, image_size=8, extractor_tag="mean")
    f = FeatureFile(tmp_path / "f.npz")
    assert f.meta["extractor"] == "mean" and f.meta["dim"] == 6 and f.meta["n_per_class"] == 5
    assert f.task_features(TASKS[1]).shape == (3, 5, 6)
    with pytest.raises(MetaTestLeakError):
        build_feature_file(tmp_path / "g.npz", meta_test_tasks(), extract)


def test_processes_creating_a_new_store_together_never_fail(tmp_path):
    # Before the fix 6 processes failed "database is locked" at PRAGMA journal_mode in about 1 round of 10.
    import multiprocessing as mp

    from tests.database._spawned import open_each_round

    n, rounds = 6, 60
    paths = [tmp_path / f"fresh{r}.sqlite" for r in range(rounds)]
    ctx = mp.get_context("spawn")
    barrier, errors = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=open_each_round, args=(paths, barrier, errors)) for _ in range(n)]
    for p in procs:
        p.start()
    failures, finished = [], 0
    while finished < n:
        e = errors.get(timeout=300)
        finished += e is None
        failures += [e] if e is not None else []
    for p in procs:
        p.join(60)
    assert failures == [] and [p.exitcode for p in procs] == [0] * n
    for p in paths:
        with Store(p) as s:
            assert s.role == "meta-train" and s.con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# The version-1 layout, as metad2a wrote it before schema version 2 (user_version stayed 0).
V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE tasks (task_id TEXT PRIMARY KEY, source TEXT NOT NULL, split TEXT NOT NULL,
                    num_classes INTEGER NOT NULL, spec TEXT NOT NULL);
CREATE TABLE recipes (recipe_hash TEXT PRIMARY KEY, spec TEXT NOT NULL);
CREATE TABLE records (
    id INTEGER PRIMARY KEY, task_id TEXT NOT NULL REFERENCES tasks(task_id), arch TEXT NOT NULL,
    seed INTEGER NOT NULL, recipe_hash TEXT NOT NULL REFERENCES recipes(recipe_hash),
    final_acc REAL NOT NULL, target REAL NOT NULL, train_loss TEXT NOT NULL, test_acc TEXT NOT NULL,
    test_loss TEXT NOT NULL, params INTEGER, flops INTEGER, wall_s REAL, cpu_s REAL,
    device TEXT, host TEXT, created REAL NOT NULL, UNIQUE (task_id, arch, seed, recipe_hash));
CREATE INDEX records_task ON records (task_id, recipe_hash);
"""


def v1_store(path):
    """A version-1 store with one record, written with plain sqlite3 as the old code did."""
    from metad2a.recipe import canonical_json

    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.executescript(V1_SCHEMA)
    con.execute("INSERT INTO meta VALUES ('role', ?), ('schema_version', '1')", (json.dumps("meta-train"),))
    for t in TASKS:
        con.execute("INSERT INTO tasks VALUES (?, ?, ?, ?, ?)", (t.task_id, t.source, t.split, t.num_classes,
                                                                  t.to_json()))
    con.execute("INSERT INTO recipes VALUES (?, ?)", (H, canonical_json(MINI)))
    con.execute("INSERT INTO records (task_id, arch, seed, recipe_hash, final_acc, target, train_loss, test_acc, "
                "test_loss, created) VALUES (?, ?, 0, ?, 50, 49, '[2.0]', '[50.0]', '[1.4]', 0)",
                (TASKS[0].task_id, A1, H))
    con.close()
    return path


def _sha(path):
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def _user_version(path):
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        return con.execute("PRAGMA user_version").fetchone()[0]


def test_eval_epochs_round_trip_and_merge(tmp_path):
    sparse = {**rec(A1, 0), "train_loss": [2.0, 1.8, 1.5, 1.2], "eval_epochs": [2, 4]}
    t0, t1 = TASKS[0].task_id, TASKS[1].task_id
    with new_store(tmp_path / "s1.sqlite") as s:
        assert s.add_record(t1, sparse)
        assert s.add_record(t0, rec(A2, 0))  # no eval_epochs: NULL, every epoch
        with pytest.raises(StoreError, match="eval_epochs"):
            s.add_record(t1, {**rec(A2, 0), "eval_epochs": [1, 2, 3]})  # 3 epochs listed, 2 scores
        assert {r["arch"]: r["eval_epochs"] for r in s.records()} == {A1: [2, 4], A2: None}
    assert _user_version(tmp_path / "s1.sqlite") == 2
    v1_store(tmp_path / "old.sqlite")  # (t0, A1) without the column
    assert merge(tmp_path / "all.sqlite", tmp_path / "s1.sqlite", tmp_path / "old.sqlite") == 3
    with Store(tmp_path / "all.sqlite", readonly=True) as s:
        got = {(r["task_id"], r["arch"]): r["eval_epochs"] for r in s.records()}
    assert got == {(t1, A1): [2, 4], (t0, A2): None, (t0, A1): None}


def test_v1_store_is_read_untouched_and_migrated_by_its_first_write(tmp_path):
    path = v1_store(tmp_path / "v1.sqlite")
    before = _sha(path)
    for readonly in (True, False):  # reading, even through a writable store, leaves the file as it was
        with Store(path, readonly=readonly) as s:
            (r,) = s.records()
            assert r["eval_epochs"] is None and r["test_acc"] == [50.0] and s.version == 1 and s.claims() == []
            assert s.done_keys() == {(TASKS[0].task_id, A1, 0, H)} and len(s.tasks()) == 3
            s.add_tasks(TASKS)  # already there: nothing to write
            s.add_recipe(MINI)
            s.set_meta("role", "meta-train")
    stats(path, probe_path=tmp_path / "none.json")
    assert _sha(path) == before and _user_version(path) == 0
    with Store(path) as s:
        assert s.add_record(TASKS[1].task_id, {**rec(A2, 0), "eval_epochs": [1, 2]})
        assert s.claim((TASKS[2].task_id, A1, 0, H), "me", 60) == "claimed"
    assert _user_version(path) == 2
    with Store(path, readonly=True) as s:
        assert s.version == 2 and s.get_meta("schema_version") == 2
        assert [r["eval_epochs"] for r in s.records()] == [None, [1, 2]]
        assert s.con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_reading_the_shipped_stores_leaves_them_byte_identical(tmp_path):
    import shutil

    # The v1 stores: complete and never written again (the v2 ones may be growing while this runs).
    for name, role in (("meta-train.sqlite", "meta-train"), ("meta-test.sqlite", "meta-test")):
        src = Path(__file__).resolve().parents[2] / "meta_data" / "v1" / name
        path = tmp_path / name
        shutil.copyfile(src, path)
        before = _sha(path)
        with Store(path, role=role) as s:
            n = sum(1 for _ in s.records())
            assert n == s.count() > 0 and s.version <= SCHEMA_VERSION
        with Store(path, role=role, readonly=True) as s:
            assert s.count() == n
        assert _sha(path) == before == _sha(src)


def test_a_newer_store_is_refused_with_one_line(tmp_path):
    new_store(tmp_path / "new.sqlite").close()
    with sqlite3.connect(tmp_path / "new.sqlite") as con:
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    for readonly in (False, True):
        with pytest.raises(StoreError, match=rf"schema v{SCHEMA_VERSION + 1}, newer .*upgrade metad2a") as e:
            Store(tmp_path / "new.sqlite", readonly=readonly)
        assert "\n" not in str(e.value)


def test_readonly_store_never_creates_or_writes(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "missing.sqlite", readonly=True)
    assert not (tmp_path / "missing.sqlite").exists()
    new_store(tmp_path / "a.sqlite").close()
    with Store(tmp_path / "a.sqlite", readonly=True) as s, pytest.raises(StoreError, match="read-only"):
        s.add_record(TASKS[0].task_id, rec(A1, 0))
    (tmp_path / "other.sqlite").touch()
    with pytest.raises(StoreError, match="holds no store yet"):
        Store(tmp_path / "other.sqlite", readonly=True)


def test_set_meta_writes_only_changes(tmp_path):
    with new_store(tmp_path / "a.sqlite") as s:
        assert s.set_meta("cfg", {"b": 1, "a": [1, 2]}) and not s.set_meta("cfg", {"a": [1, 2], "b": 1})
        assert s.set_meta("cfg", {"a": 3}) and s.get_meta("cfg") == {"a": 3}


def test_claims_lease_jobs_between_owners(tmp_path):
    k1, k2 = (TASKS[0].task_id, A1, 0, H), (TASKS[0].task_id, A2, 0, H)
    with new_store(tmp_path / "a.sqlite") as s, Store(tmp_path / "a.sqlite") as other:
        assert s.claim(k1, "a", lease_s=60) == CLAIMED
        assert other.claim(k1, "b", lease_s=60) == BUSY  # a's lease is live
        assert s.claim(k1, "a", lease_s=60) == CLAIMED  # re-claiming one's own job renews it
        assert s.claim(k2, "a", lease_s=-1) == CLAIMED and other.claim(k2, "b", lease_s=60) == CLAIMED  # expired
        assert [c["owner"] for c in s.claims()] == ["a", "b"]
        before = {c["key"]: c["expires"] for c in s.claims()}
        time.sleep(0.01)
        assert s.renew("a", lease_s=60) == 1 and s.claims()[0]["expires"] > before[k1]
        assert other.add_record(TASKS[0].task_id, rec(A2, 0))  # storing drops the claim ...
        assert s.claim(k2, "a", lease_s=60) == STORED  # ... and nobody can claim it again
        assert s.release("a") == 1 and s.claims() == [] and other.claim(k1, "b", lease_s=60) == CLAIMED


def test_reading_leaves_no_wal_or_shm_files_behind(tmp_path):
    new_store(tmp_path / "a.sqlite").close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.sqlite"]
    with Store(tmp_path / "a.sqlite", readonly=True) as s:
        assert s.count() == 0
        with pytest.raises(sqlite3.OperationalError, match="readonly"):  # SQLite itself refuses writes
            s.con.execute("DELETE FROM tasks")
    merge(tmp_path / "b.sqlite", tmp_path / "a.sqlite")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.sqlite", "b.sqlite"]
