"""Concurrency soak of the collection: workers x rounds on one fresh store, with random kill -9.

    python bench/collect_soak.py                    # 6 workers x 3 rounds, 2 kills a round (~3 min on 2 cores)
    python bench/collect_soak.py --workers 4 --rounds 2 --kills 1 --seed 1

Every round starts ``--workers`` processes of ``python -m metad2a.collect`` on the *same* job
list (one share: the worst case for repeated work), each stopping after ``--runs`` new runs,
and kills ``--kills`` of them with SIGKILL a random moment after they start training. The
next round starts at once, while the killed workers' claims are still unexpired. A last
worker then resumes whatever is left. Tasks are synthetic and the recipe tiny, so the soak
measures the claims, not training.

Every training start is logged by its worker (``hydra.verbose=metad2a.collect``) with its
claim owner (``host:pid:token``). The soak fails unless every job is stored exactly once, no
job was started twice except after a killed worker had started it, no claim is left, and
``PRAGMA integrity_check`` is ok. Prints a table; writes bench/results/collect_soak.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "bench" / "results" / "collect_soak.json"
# Synthetic 3-class tasks at 8x8 and a 3-epoch C=4 N=1 recipe: ~0.3 s a run on one core.
TINY = ["tasks.source=synthetic", "tasks.k=3", "recipe.C=4", "recipe.N=1", "recipe.resolution=8",
        "recipe.epochs=3", "recipe.target_last_k=1", "recipe.batch_size=16", "recipe.train_per_class=8",
        "recipe.test_per_class=4", "noise.tasks=0", "seeds=[0]", "threads=1", "device=cpu", "progress=false",
        "hydra.verbose=metad2a.collect"]
TRAIN_LINE = re.compile(r"train (\S+) (\S+) seed (\d+) recipe (\S+) owner (\S+)")


def start_worker(db: Path, logs: Path, name: str, args: argparse.Namespace, max_runs: int | None) -> dict:
    cmd = [sys.executable, "-m", "metad2a.collect", *TINY, f"tasks.num={args.tasks}", "tasks.fractions=[1.0,0.0,0.0]",
           f"cells.per_task={args.cells}", f"lease_s={args.lease_s}", f"db={db}",
           f"hydra.run.dir={logs}/hydra/{name}", *([f"max_runs={max_runs}"] if max_runs else [])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    log = logs / f"{name}.log"
    with open(log, "w") as fh:
        p = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO, env=env)
    return {"name": name, "proc": p, "log": log, "killed": False, "started": time.time()}


def train_starts(log: Path) -> list[tuple[tuple, str]]:
    """(key, owner) of every training start a worker logged."""
    out = []
    for line in log.read_text(errors="replace").splitlines():
        m = TRAIN_LINE.search(line)
        if m:
            t, a, s, h, owner = m.groups()
            out.append(((t, a, int(s), h), owner))
    return out


def summary_of(log: Path) -> dict | None:
    """The JSON summary a worker prints last (None if it was killed first)."""
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return None


def run_round(db: Path, logs: Path, r: int, args: argparse.Namespace, rng: random.Random, workers: int, kills: int,
              max_runs: int | None) -> list[dict]:
    """Start ``workers`` workers, kill ``kills`` of them once they train, wait for the rest."""
    workers = [start_worker(db, logs, f"r{r}w{i}", args, max_runs) for i in range(workers)]
    victims = {w["name"]: None for w in rng.sample(workers, kills)}  # name -> kill time once training
    try:
        while any(w["proc"].poll() is None for w in workers):
            time.sleep(0.05)
            for w in workers:
                if w["name"] not in victims or w["killed"] or w["proc"].poll() is not None:
                    continue
                if victims[w["name"]] is None and train_starts(w["log"]):
                    victims[w["name"]] = time.time() + rng.uniform(0.0, args.kill_within)
                if victims[w["name"]] is not None and time.time() >= victims[w["name"]]:
                    w["proc"].send_signal(signal.SIGKILL)
                    w["killed"] = True
    finally:  # interrupted: take our workers with us
        for w in workers:
            if w["proc"].poll() is None and not w["killed"]:
                w["proc"].terminate()
            w["proc"].wait()
    return workers


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--kills", type=int, default=2, help="workers killed (kill -9) per round")
    ap.add_argument("--runs", type=int, default=4, help="new runs per worker per round (max_runs)")
    ap.add_argument("--tasks", type=int, default=3)
    ap.add_argument("--cells", type=int, default=20, help="cells per task (one seed): tasks x cells jobs")
    ap.add_argument("--lease-s", type=float, default=30.0, help="claim lease (longer than a round's runs)")
    ap.add_argument("--kill-within", type=float, default=2.0, help="kill this many s (at most) after its first run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--keep", action="store_true", help="keep the work folder (store and worker logs)")
    args = ap.parse_args(argv)
    if not 0 <= args.kills <= args.workers:
        ap.error("--kills must be between 0 and --workers")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so run_round's cleanup runs
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="collect_soak-"))
    db, t0 = work / "soak.sqlite", time.time()
    rounds, everyone = [], []
    for r in range(1, args.rounds + 1):
        before = _count(db)
        t = time.time()
        workers = run_round(db, work, r, args, rng, args.workers, args.kills, args.runs)
        everyone += workers
        sums = [summary_of(w["log"]) for w in workers if not w["killed"]]
        rounds.append({"round": r, "workers": len(workers), "killed": sum(w["killed"] for w in workers),
                       "failed": sum(w["proc"].returncode != 0 and not w["killed"] for w in workers),
                       "started": sum(len(train_starts(w["log"])) for w in workers),
                       "stored": _count(db) - before, "busy_skips": sum(s["busy"] for s in sums if s),
                       "wall_s": round(time.time() - t, 1)})
    t = time.time()
    before = _count(db)
    (last,) = run_round(db, work, args.rounds + 1, args, rng, workers=1, kills=0, max_runs=None)
    everyone.append(last)
    final = summary_of(last["log"]) or {}
    rounds.append({"round": "resume", "workers": 1, "killed": 0, "failed": int(last["proc"].returncode != 0),
                   "started": len(train_starts(last["log"])), "stored": _count(db) - before,
                   "busy_skips": final.get("busy", 0), "wall_s": round(time.time() - t, 1)})
    config = {k: v for k, v in vars(args).items() if k not in ("out", "keep")}
    result = {"command": " ".join(["python bench/collect_soak.py", *(argv if argv is not None else sys.argv[1:])]),
              "config": config, "host": socket.gethostname(), "cpus": os.cpu_count(),
              "load_avg_1m": round(os.getloadavg()[0], 2), "rounds": rounds,
              **check(db, everyone, final.get("planned")), "wall_s": round(time.time() - t0, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    if args.keep:
        print(f"work folder kept: {work}")
    else:
        import shutil

        shutil.rmtree(work)
    return 0 if result["ok"] else 1


def check(db: Path, workers: list[dict], planned: int | None) -> dict:
    starts: dict[tuple, list[str]] = defaultdict(list)
    killed_owners = set()
    for w in workers:
        for key, owner in train_starts(w["log"]):
            starts[key].append(owner)
            if w["killed"]:
                killed_owners.add(owner)
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        stored = Counter(con.execute("SELECT task_id, arch, seed, recipe_hash FROM records").fetchall())
        claims_left = con.execute("SELECT COUNT(*) FROM claims").fetchone()[0]
    twice = {k: o for k, o in starts.items() if len(o) > 1}
    # A repeat is allowed only after kills: at most one start of a job by a worker that lived.
    bad = {k: o for k, o in twice.items() if sum(owner not in killed_owners for owner in o) > 1}
    out = {"planned": planned, "stored": sum(stored.values()), "stored_twice": sum(n > 1 for n in stored.values()),
           "trained": sum(len(o) for o in starts.values()), "repeated_after_kill": len(twice) - len(bad),
           "repeated_otherwise": len(bad), "claims_left": claims_left, "integrity_check": integrity,
           "killed_workers": sum(w["killed"] for w in workers)}
    out["ok"] = (integrity == "ok" and planned is not None and out["stored"] == planned and not out["stored_twice"]
                 and not bad and claims_left == 0 and set(stored) == set(starts))
    return out


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=60) as con:
        try:
            return con.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        except sqlite3.OperationalError:  # not created yet
            return 0


def print_table(result: dict) -> None:
    cols = ["round", "workers", "killed", "failed", "started", "stored", "busy_skips", "wall_s"]
    print(" ".join(f"{c:>10}" for c in cols))
    for r in result["rounds"]:
        print(" ".join(f"{str(r[c]):>10}" for c in cols))
    keys = ["planned", "stored", "stored_twice", "trained", "repeated_after_kill", "repeated_otherwise",
            "claims_left", "integrity_check", "killed_workers", "wall_s", "ok"]
    print("; ".join(f"{k}={result[k]}" for k in keys))


if __name__ == "__main__":
    sys.exit(main())
