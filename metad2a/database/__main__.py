"""``python -m metad2a.database stats|merge``: summarise or merge record stores.

    python -m metad2a.database stats [--db meta_data/meta-train.sqlite] [--meta-test-db ...]
    python -m metad2a.database merge DST SHARD [SHARD ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from metad2a.database.store import Store, StoreError, merge
from metad2a.database.tasks import TRAINED_META_TEST
from metad2a.meta_data import meta_data_dir

_REPO = Path(__file__).resolve().parent.parent.parent
_META = str(meta_data_dir())


def _probe_cpu_hours(runs_dir: Path) -> float:
    """CPU hours of the recipe probes' stored runs: the ``cpu_s`` of every line of ``*.jsonl``."""
    total = 0.0
    for f in sorted(runs_dir.glob("*.jsonl")):
        for line in f.read_text().splitlines():
            if line.strip():
                total += float(json.loads(line).get("cpu_s") or 0.0)
    return total / 3600.0


def _probe_numbers(store: Store | None, recipe: str | None, probe_path: Path) -> dict:
    """The recipe's measured seed/fidelity Spearman: the probe JSON when it measured this recipe
    (it is the newest measurement), else the copy the collection wrote into the store."""
    if recipe is None:
        return {}
    if probe_path.is_file():
        chosen = json.loads(probe_path.read_text()).get("chosen", {})
        if chosen.get("recipe_hash") == recipe:
            return chosen
    if store is not None:
        return store.get_meta(f"recipe_probe/{recipe}") or {}
    return {}


def seed_spearman(store: Store, recipe: str | None, min_cells: int = 5) -> tuple[float | None, int]:
    """Mean over tasks of the Spearman between seed s and seed s' over the cells run with both.

    Uses the two most common seeds of each task; tasks with fewer than ``min_cells`` such
    cells are skipped. Returns (mean Spearman or None, number of tasks it averages).
    """
    from collections import defaultdict

    from metad2a.metrics import spearman

    if recipe is None:
        return None, 0
    by: dict[str, dict[str, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for t, a, sd, y in store.con.execute("SELECT task_id, arch, seed, target FROM records WHERE recipe_hash = ?",
                                         (recipe,)):
        by[t][a][int(sd)] = y
    rhos = []
    for cells in by.values():
        counts = Counter(sd for runs in cells.values() for sd in runs)
        if len(counts) < 2:
            continue
        (s0, _), (s1, _) = counts.most_common(2)
        both = [c for c in cells.values() if s0 in c and s1 in c]
        if len(both) >= min_cells:
            rhos.append(spearman([c[s0] for c in both], [c[s1] for c in both]))
    return (float(np.mean(rhos)) if rhos else None), len(rhos)


def stats(db: str | os.PathLike, meta_test_db: str | os.PathLike | None = None,
          probe_path: str | os.PathLike | None = None) -> dict:
    """The issue's summary of a meta-training store (and its meta-test store, if present).

    Returns {"tasks", "records", "cells_per_task": {"min", "median"}, "recipes",
    "meta_test": {dataset: records}, "seed_spearman", "seed_spearman_tasks", "fidelity_spearman",
    "truth_recipe", "by_recipe", "domains", "fidelity", "nb201_tasks", "meta_test_truth", "cpu_hours"}.

    - ``recipes`` lists recipe hashes by record count; the recipe "in use" is the most common one
      among the project's own runs (imported NB201 records are not runs).
    - ``seed_spearman`` comes from the store's own repeated runs (``seed_spearman_tasks`` tasks),
      else from the recipe probe; ``fidelity_spearman`` (ImageNet16-120) and ``fidelity``
      (both references) from the probe. None when the recipe in use was not measured.
    - ``by_recipe``: {recipe name: {"hash", "tasks", "records", "cells_per_task_min"}} over the
      project's own runs; ``domains``: {source: {"tasks", "records"}} likewise;
      ``nb201_tasks``: {"imagenet16_120": imported records}; ``meta_test_truth``: {dataset:
      {"recipe", "cells", "seeds"}} of the meta-test store.
    - ``meta_test_truth`` counts a dataset's complete cells: those with every seed it has.
    - ``cpu_hours``: {"meta_train", "meta_test", "probes", "total"}: the CPU time of the stored
      runs and of the recipe probes' runs (``probe_runs/*.jsonl`` beside the probe JSON): the
      collection's budget. Runs lost before they were stored are in none of them.
    """
    from metad2a.database.nb201_import import NB201_TASK_ID

    probe = Path(probe_path) if probe_path else _REPO / "bench" / "results" / "recipe_probe.json"
    out: dict = {"tasks": 0, "records": 0, "cells_per_task": {"min": 0, "median": 0.0}, "recipes": [],
                 "meta_test": {d: 0 for d in TRAINED_META_TEST}, "seed_spearman": None, "fidelity_spearman": None}
    extra: dict = {"truth_recipe": None, "by_recipe": {}, "domains": {}, "fidelity": None,
                   "nb201_tasks": {"imagenet16_120": 0}, "meta_test_truth": {},
                   "cpu_hours": {"meta_train": 0.0, "meta_test": 0.0}}
    cpu_q = "SELECT COALESCE(SUM(cpu_s), 0) / 3600.0 FROM records WHERE task_id != ?"
    store, in_use = None, None
    if Path(db).is_file():
        store = Store(db, role="meta-train", readonly=True)
        rows = store.con.execute("SELECT task_id, COUNT(DISTINCT arch) FROM records GROUP BY task_id").fetchall()
        per_task = [n for _, n in rows]
        by_recipe = Counter(dict(store.con.execute("SELECT recipe_hash, COUNT(*) FROM records GROUP BY recipe_hash")))
        out.update(tasks=len(store.tasks()), records=store.count(),
                   cells_per_task={"min": int(min(per_task, default=0)),
                                   "median": float(np.median(per_task)) if per_task else 0.0},
                   recipes=[h for h, _ in by_recipe.most_common()])
        names = {h: spec.get("name", h) for h, spec in store.recipes().items()}
        own = store.con.execute(
            "SELECT r.recipe_hash, t.source, r.task_id, COUNT(*), COUNT(DISTINCT r.arch) FROM records r "
            "JOIN tasks t USING (task_id) WHERE r.task_id != ? GROUP BY r.recipe_hash, r.task_id",
            (NB201_TASK_ID,)).fetchall()
        counts = Counter()
        for h, source, _task, n, cells in own:
            counts[h] += n
            b = extra["by_recipe"].setdefault(names[h], {"hash": h, "tasks": 0, "records": 0, "cells_per_task_min": cells})
            b["tasks"] += 1
            b["records"] += n
            b["cells_per_task_min"] = min(b["cells_per_task_min"], cells)
            d = extra["domains"].setdefault(source, {"tasks": 0, "records": 0})
            d["tasks"] += 1
            d["records"] += n
        in_use = counts.most_common(1)[0][0] if counts else None
        extra["cpu_hours"]["meta_train"] = round(store.con.execute(cpu_q, (NB201_TASK_ID,)).fetchone()[0], 3)
        extra["nb201_tasks"]["imagenet16_120"] = store.con.execute(
            "SELECT COUNT(*) FROM records WHERE task_id = ?", (NB201_TASK_ID,)).fetchone()[0]
    mt = Path(meta_test_db) if meta_test_db else None
    if mt is not None and mt.is_file():
        with Store(mt, role="meta-test", readonly=True) as m:
            q = "SELECT t.source, COUNT(*) FROM records r JOIN tasks t USING (task_id) GROUP BY t.source"
            out["meta_test"].update({s: n for s, n in m.con.execute(q)})
            extra["cpu_hours"]["meta_test"] = round(m.con.execute(cpu_q, (NB201_TASK_ID,)).fetchone()[0], 3)
            mnames = {h: spec.get("name", h) for h, spec in m.recipes().items()}
            q = ("SELECT t.source, r.recipe_hash, r.arch, GROUP_CONCAT(DISTINCT r.seed) FROM records r "
                 "JOIN tasks t USING (task_id) GROUP BY t.source, r.recipe_hash, r.arch")
            seeds_of: dict = defaultdict(list)
            for source, h, _arch, seeds in m.con.execute(q):
                seeds_of[(source, h)].append(frozenset(seeds.split(",")))
            for (source, h), per_cell in seeds_of.items():
                every = frozenset().union(*per_cell)  # a cell without all of them is still being collected
                extra["meta_test_truth"][source] = {"recipe": mnames.get(h, h), "seeds": len(every),
                                                    "cells": sum(c == every for c in per_cell)}
            if in_use is None:
                hs = Counter(dict(m.con.execute("SELECT recipe_hash, COUNT(*) FROM records GROUP BY recipe_hash")))
                in_use = hs.most_common(1)[0][0] if hs else None
    extra["cpu_hours"]["probes"] = round(_probe_cpu_hours(probe.parent / "probe_runs"), 3)
    extra["cpu_hours"]["total"] = round(sum(extra["cpu_hours"].values()), 3)
    measured = _probe_numbers(store, in_use, probe)
    # Prefer the seed noise measured on the store's own repeated runs; the probe is the fallback.
    own_rho, n_tasks = seed_spearman(store, in_use) if store is not None else (None, 0)
    out["seed_spearman"] = own_rho if own_rho is not None else measured.get("seed_spearman")
    out["seed_spearman_tasks"] = n_tasks
    out["fidelity_spearman"] = measured.get("fidelity_spearman")
    if store is not None:
        extra["truth_recipe"] = store.recipes().get(in_use, {}).get("name") if in_use else None
        store.close()
    extra["fidelity"] = measured.get("fidelity") or (
        {"imagenet16_120": out["fidelity_spearman"], "cifar100": None} if out["fidelity_spearman"] is not None else None)
    return out | extra


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m metad2a.database", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    st = sub.add_parser("stats", help="print the store summary as JSON")
    st.add_argument("--db", default=f"{_META}/meta-train.sqlite")
    st.add_argument("--meta-test-db", default=f"{_META}/meta-test.sqlite")
    st.add_argument("--probe", default=None, help="recipe probe JSON (default bench/results/recipe_probe.json)")
    mg = sub.add_parser("merge", help="fold shard stores into DST")
    mg.add_argument("dst")
    mg.add_argument("shards", nargs="+")
    a = ap.parse_args(argv)
    try:
        if a.cmd == "stats":
            print(json.dumps(stats(a.db, a.meta_test_db, a.probe)))
        else:
            added = merge(a.dst, *a.shards)
            print(json.dumps({"dst": a.dst, "shards": len(a.shards), "records_added": added}))
    except StoreError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
