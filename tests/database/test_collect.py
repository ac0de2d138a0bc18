import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from metad2a.collect import extend_cells, plan_cells, plan_jobs, plan_noise, plan_tasks, run
from metad2a.database.store import Store
from metad2a.database.tasks import (
    MetaTestLeakError,
    check_meta_train,
    load_task_images,
    make_meta_train_tasks,
    meta_test_tasks,
    split_tasks,
)
from metad2a.recipe import MINI, recipe_hash

REPO = Path(__file__).resolve().parents[2]
CONF = str(REPO / "conf")
# A tiny collection: synthetic 3-class tasks at 8x8, a 1-epoch C=4 N=1 recipe.
TINY = ["recipe=mini", "tasks.groups=[]", "tasks.nb201_import=false", "cells.per_task=20", "cells.shared=0",
        "seeds=[0]", "noise.tasks=10", "tasks.fractions=[0.8,0.1,0.1]", "tasks.source=synthetic", "tasks.k=3", "recipe.C=4", "recipe.N=1", "recipe.resolution=8",
        "recipe.epochs=1", "recipe.target_last_k=1", "recipe.batch_size=16", "recipe.train_per_class=8",
        "recipe.test_per_class=4", "threads=1", "device=cpu", "progress=false"]


def compose_collect(overrides, hydra_config=False, name="collect"):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose(name, overrides=overrides, return_hydra_config=hydra_config)


def records(db):
    with Store(db) as s:
        return [(r["task_id"], r["arch"], r["seed"], r["created"]) for r in s.records()]


def test_end_to_end_two_tasks_three_cells_and_rerun_skips(tmp_path):
    db = tmp_path / "mt.sqlite"
    cfg = compose_collect([*TINY, "tasks.num=2", "tasks.fractions=[0.5,0.5,0.0]", "cells.per_task=3", f"db={db}"])
    assert run(cfg) == {"planned": 6, "skipped": 0, "busy": 0, "trained": 6, "stored": 6}
    assert run(cfg) == {"planned": 6, "skipped": 6, "busy": 0, "trained": 0, "stored": 0}
    with Store(db) as s:
        recs = list(s.records())
        assert len(recs) == 6 and len({r["task_id"] for r in recs}) == 2
        assert {r["recipe_hash"] for r in recs} == set(s.recipes()) and recs[0]["device"] == "cpu"
        assert all(len(r["test_acc"]) == 1 for r in recs)
        assert s.get_meta("collect_config/meta-train")["cells"]["per_task"] == 3


def _cli(db, *extra, multirun=False):
    cmd = [sys.executable, "-m", "metad2a.collect", *(["-m"] if multirun else []), *TINY, "tasks.num=2", "tasks.fractions=[0.5,0.5,0.0]",
           f"db={db}", f"hydra.run.dir={db.parent}/hydra", f"hydra.sweep.dir={db.parent}/multirun", *extra]
    return cmd


def test_resume_after_kill_9_loses_nothing_and_duplicates_nothing(tmp_path):
    db = tmp_path / "mt.sqlite"
    p = subprocess.Popen(_cli(db, "cells.per_task=8", "recipe.epochs=3", "recipe.target_last_k=1"),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, n = time.time() + 50, 0
    while time.time() < deadline and n < 2:
        time.sleep(0.2)
        if db.exists():
            with sqlite3.connect(db, timeout=30) as con:
                try:
                    n = con.execute("SELECT COUNT(*) FROM records").fetchone()[0]
                except sqlite3.OperationalError:
                    pass
    p.send_signal(signal.SIGKILL)
    p.wait()
    before = records(db)
    assert 2 <= len(before) < 16
    cfg = compose_collect([*TINY, "tasks.num=2", "tasks.fractions=[0.5,0.5,0.0]", "cells.per_task=8",
                           "recipe.epochs=3", "recipe.target_last_k=1", f"db={db}"])
    summary = run(cfg)
    after = records(db)
    assert summary["skipped"] == len(before) and summary["stored"] == 16 - len(before)
    assert len(after) == 16 and len({r[:3] for r in after}) == 16
    assert set(before) <= set(after)  # the records written before the kill are untouched


def test_two_joblib_workers_share_one_store(tmp_path):
    db = tmp_path / "mt.sqlite"
    out = subprocess.run(_cli(db, "hydra/launcher=local", "hydra.launcher.n_jobs=2", "num_workers=2",
                              "worker=0,1", "cells.per_task=3", "seeds=[0,1]", multirun=True),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    recs = records(db)
    assert len(recs) == 12 and len({r[:3] for r in recs}) == 12


def test_slurm_launcher_config_composes():
    cfg = compose_collect(["hydra/launcher=slurm", "num_workers=8"], hydra_config=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert launcher.cpus_per_task == 2 and launcher.timeout_min > 0
    local = compose_collect(["hydra/launcher=local"], hydra_config=True).hydra.launcher
    assert local._target_.endswith("JoblibLauncher") and local.n_jobs == 2


def test_recipe_configs_compose_to_the_python_recipes():
    from metad2a.recipe import Recipe
    from omegaconf import OmegaConf

    from metad2a.recipe import RECIPES, TRUTH

    for name in ("mini", "full", "truth"):
        cfg = compose_collect([f"recipe={name}"])
        r = Recipe.from_dict(OmegaConf.to_container(cfg.recipe))
        assert r.name == name and recipe_hash(r) == recipe_hash(RECIPES[name])
    assert recipe_hash(Recipe.from_dict(OmegaConf.to_container(compose_collect([]).recipe))) == recipe_hash(TRUTH)


def test_jobs_partition_and_cells_are_deterministic():
    tasks = plan_tasks("meta-train", MINI, num=5, k=3, source="synthetic")
    cells = {t.task_id: plan_cells(t.task_id, 7, shared=2) for t in tasks}
    assert cells == {t.task_id: plan_cells(t.task_id, 7, shared=2) for t in tasks}
    assert all(len(set(c)) == 7 for c in cells.values())
    assert len({c[0] for c in cells.values()}) == 1 and len({tuple(c) for c in cells.values()}) == 5
    blocks = [plan_jobs(tasks, cells, [0, 1], w, 3) for w in range(3)]
    flat = [(t.task_id, a, s) for b in blocks for t, a, s in b]
    assert len(flat) == len(set(flat)) == 5 * 7 * 2 and max(map(len, blocks)) - min(map(len, blocks)) <= 1


def test_noise_tasks_get_more_cells_and_seeds_and_come_first():
    tasks = plan_tasks("meta-train", MINI, num=10, k=3, source="synthetic", fractions=(0.6, 0.2, 0.2))
    cells = {t.task_id: plan_cells(t.task_id, 4) for t in tasks}
    ordered, cells2, seeds = plan_noise(tasks, cells, [0], "test", 2, 7, [0, 1])
    tests = [t for t in tasks if t.split == "test"]
    assert [t.task_id for t in ordered[:2]] == [t.task_id for t in tests[:2]] and len(ordered) == 10
    for t in tasks:
        noisy = t in tests[:2]
        assert cells2[t.task_id][:4] == cells[t.task_id]  # planned cells stay a prefix
        assert len(set(cells2[t.task_id])) == (7 if noisy else 4)
        assert seeds[t.task_id] == ([0, 1] if noisy else [0])
    assert extend_cells(cells[tests[0].task_id], 7, tests[0].task_id) == cells2[tests[0].task_id]
    jobs = [(t.task_id, a, s) for w in range(2) for t, a, s in plan_jobs(ordered, cells2, seeds, w, 2)]
    assert len(jobs) == len(set(jobs)) == 2 * 7 * 2 + 8 * 4
    first = plan_jobs(ordered, cells2, seeds, 0, 2)[:7]
    assert {t.task_id for t, _, _ in first} == {tests[0].task_id}  # both workers start on the noise tasks


def test_meta_test_datasets_are_refused_in_meta_training(tmp_path):
    mt = meta_test_tasks()
    assert {t.task_id for t in mt} == {"cifar10", "mnist", "fashion-mnist"} and all(t.meta_test for t in mt)
    with pytest.raises(MetaTestLeakError):
        check_meta_train(mt)
    with pytest.raises(MetaTestLeakError):
        make_meta_train_tasks(3, source="cifar10")
    with pytest.raises(MetaTestLeakError):
        load_task_images(mt[1], 8)  # refused before any file is read
    with pytest.raises(MetaTestLeakError):
        Store(tmp_path / "mt.sqlite").add_tasks(mt[:1])
    train = plan_tasks("meta-train", MINI, num=4, k=3, source="synthetic")
    assert not any(t.meta_test for t in train)


def test_task_splits_are_disjoint_and_seeded():
    s = split_tasks(100, (0.8, 0.1, 0.1), seed=3)
    assert (s.count("train"), s.count("valid"), s.count("test")) == (80, 10, 10)
    assert s == split_tasks(100, (0.8, 0.1, 0.1), seed=3) and s != split_tasks(100, (0.8, 0.1, 0.1), seed=4)
    a = make_meta_train_tasks(10, k=4, source="synthetic")
    b = make_meta_train_tasks(12, k=4, source="synthetic")
    assert [t.classes for t in a] == [t.classes for t in b[:10]]  # adding tasks keeps earlier ones
    assert len({t.task_id for t in b}) == 12


def test_real_meta_test_images_load(shared_data):
    for spec in meta_test_tasks(train_per_class=3, test_per_class=2):
        d = load_task_images(spec, 16, shared_data, meta_test_ok=True)
        assert d.train_x.shape == (30, 16, 16, 3) and d.test_x.shape == (20, 16, 16, 3)
        assert sorted(set(d.train_y.tolist())) == list(range(10))


def _sha(path):
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_rerun_with_nothing_to_do_leaves_the_store_byte_identical(tmp_path):
    db = tmp_path / "mt.sqlite"
    base = [*TINY, "tasks.num=2", "tasks.fractions=[0.5,0.5,0.0]", "cells.per_task=2", f"db={db}"]
    assert run(compose_collect(base))["stored"] == 4
    before = _sha(db)
    # A changed config (recorded in the metadata) but no job to run: nothing may be written.
    assert run(compose_collect([*base, "max_runs=7", "threads=2"]))["trained"] == 0
    assert run(compose_collect([*base, "max_runs=0", "cells.per_task=3"]))["trained"] == 0
    assert _sha(db) == before


def test_rerun_of_the_shipped_store_trains_nothing_and_leaves_it_byte_identical(tmp_path, shared_data):
    import shutil

    from omegaconf import OmegaConf

    db = tmp_path / "meta-train.sqlite"
    shutil.copyfile(REPO / "meta_data" / "v1" / "meta-train.sqlite", db)
    before = _sha(db)
    with closing(sqlite3.connect(REPO / "meta_data" / "v1" / "meta-train.sqlite")) as con:  # rerun it as configured
        (text,) = con.execute("SELECT value FROM meta WHERE key = 'collect_config/meta-train'").fetchone()
    stored = json.loads(text)
    cfg = OmegaConf.merge(compose_collect([], name="collect_v1"), stored, {"db": str(db), "worker": 0, "progress": False,
                                                        "data_root": str(shared_data)})
    summary = run(cfg)
    assert summary["trained"] == 0 and summary["skipped"] == summary["planned"] > 0
    assert _sha(db) == before


def _fake_train_cell(log, delay=0.05):
    """A stand-in for train_cell that records who trained what (thread, task images, arch, seed); takes ``delay`` s."""
    import hashlib
    import threading

    from metad2a.recipe import recipe_hash as _hash

    def train_cell(arch, train_x, train_y, test_x, test_y, num_classes, recipe, seed=0, device="cpu"):
        task = hashlib.sha1(train_x.tobytes()).hexdigest()[:8]
        log.append((threading.current_thread().name, task, arch, seed))
        time.sleep(delay)
        return {"arch": arch, "seed": seed, "recipe_hash": _hash(recipe), "train_loss": [1.0, 0.9],
                "test_acc": [50.0, 60.0], "test_loss": [1.0, 0.9], "eval_epochs": [1, 2], "final_acc": 60.0,
                "target": 60.0, "params": 1, "flops": 1, "wall_s": delay, "cpu_s": delay, "device": "cpu"}

    return train_cell


def test_workers_given_the_same_jobs_train_each_job_once(tmp_path, monkeypatch):
    # Before claims, each worker trained every job of its share: two sharing one trained it all twice.
    import threading

    import metad2a.recipe
    from metad2a.collect import collect

    recipe = MINI.with_(train_per_class=8, test_per_class=4)
    tasks = plan_tasks("meta-train", recipe, num=2, k=3, source="synthetic", fractions=(0.5, 0.5, 0.0))
    jobs = plan_jobs(tasks, {t.task_id: plan_cells(t.task_id, 6) for t in tasks}, [0, 1])
    trained = []
    monkeypatch.setattr(metad2a.recipe, "train_cell", _fake_train_cell(trained))
    db, summaries = tmp_path / "mt.sqlite", {}
    start = threading.Barrier(3)

    def worker(name):
        start.wait()
        summaries[name] = collect(db, jobs, recipe, progress=False)

    threads = [threading.Thread(target=worker, args=(f"w{i}",), name=f"w{i}") for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    keys = [tuple(key) for _, *key in trained]
    assert len(keys) == len(set(keys)) == len(jobs) == 24
    assert sum(s["trained"] for s in summaries.values()) == 24 and len({w for w, *_ in trained}) > 1
    with Store(db) as s:
        assert s.count() == 24 and s.claims() == []  # every claim went with its stored record


def test_a_worker_killed_mid_run_leaves_its_job_to_the_next_one(tmp_path, monkeypatch):
    import metad2a.recipe
    from metad2a.collect import collect
    from metad2a.database.store import new_owner

    recipe = MINI.with_(train_per_class=8, test_per_class=4)
    tasks = plan_tasks("meta-train", recipe, num=2, k=3, source="synthetic", fractions=(0.5, 0.5, 0.0))
    jobs = plan_jobs(tasks, {t.task_id: plan_cells(t.task_id, 2) for t in tasks}, [0])
    h = recipe_hash(recipe)
    keys = [(t.task_id, a, s, h) for t, a, s in jobs]
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_owner = f"{new_owner().rsplit(':', 2)[0]}:{int(dead.stdout)}:0"
    with Store(db := tmp_path / "mt.sqlite") as s:
        s.add_recipe(recipe)
        s.add_tasks(tasks)
        s.claim(keys[0], "elsewhere:1:x", lease_s=600)  # live lease of a worker on another host
        s.claim(keys[1], dead_owner, lease_s=600)  # a pid of this host that has exited: free now
        s.claim(keys[2], "elsewhere:2:x", lease_s=-1)  # expired
    trained = []
    monkeypatch.setattr(metad2a.recipe, "train_cell", _fake_train_cell(trained, delay=0))
    summary = collect(db, jobs, recipe, progress=False)
    assert summary == {"planned": 4, "skipped": 0, "busy": 1, "trained": 3, "stored": 3}
    with Store(db) as s:
        assert s.done_keys() == set(keys[1:]) and [c["key"] for c in s.claims()] == [keys[0]]


def _descendants(pid):
    """Pids of the processes below ``pid`` (from /proc)."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        out += kids
        todo += kids
    return out


def _count(db):
    """Records in the store; 0 while a worker is still creating it (the file exists before its tables)."""
    with sqlite3.connect(db, timeout=30) as con:
        if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'records'").fetchone():
            return 0
        return con.execute("SELECT COUNT(*) FROM records").fetchone()[0]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds the workers through /proc")
def test_workers_of_a_killed_multirun_stop_after_their_current_run(tmp_path):
    # Before the fix the orphans of `kill -9 <multirun parent>` trained their whole share.
    db = tmp_path / "mt.sqlite"
    p = subprocess.Popen(_cli(db, "hydra/launcher=local", "hydra.launcher.n_jobs=2", "num_workers=2", "worker=0,1",
                              "cells.per_task=20", "recipe.epochs=3", multirun=True),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers = []
    try:
        deadline = time.time() + 90
        while time.time() < deadline and not (db.exists() and _count(db) >= 4):
            time.sleep(0.2)
        workers = _descendants(p.pid)
        p.send_signal(signal.SIGKILL)
        p.wait()
        at_kill, last, quiet_since = _count(db), -1, time.time()
        # Settled: no claim left (the orphans stopped) and no new record for 4 s. Waiting on the
        # claims, not on a quiet spell alone, keeps a slow run on a loaded machine from passing.
        while time.time() < deadline + 120:
            time.sleep(0.25)
            n = _count(db)
            last, quiet_since = n, (quiet_since if n == last else time.time())
            with Store(db, readonly=True) as s:
                if not s.claims() and time.time() - quiet_since >= 4:
                    break
        assert 4 <= at_kill <= last <= at_kill + 2 < 40  # each orphan finished at most the run it was in
        with Store(db) as s:
            assert s.claims() == []  # ... and gave its share back
    finally:
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
