"""Measure a cell-training recipe: seed-to-seed noise and fidelity to ImageNet16-120.

    # noise: T k-class Tiny-ImageNet tasks x C cells x 2 seeds (run parts in parallel, resumable)
    nice python bench/recipe_probe.py noise --name mini-v1 --tasks 5 --cells 30 --part 0 --nparts 2
    # fidelity: the same C cells on a 120-class Tiny-ImageNet task at the recipe's resolution
    nice python bench/recipe_probe.py fidelity --name mini-v1 --cells 30 --part 0 --nparts 2
    # ... or on CIFAR-100's test images (70 train / 30 test per class) against NB201's cifar100_test
    nice python bench/recipe_probe.py fidelity --reference cifar100 --name truth --set steps=2640 eval_points=6
    # ... or on CIFAR-10's meta-test task itself (200 train / 200 test per class, the benchmark's
    # truth-recipe row) against NB201's 200-epoch cifar10-valid accuracy, over cells drawn from
    # the 200 that have a published curve
    nice python bench/recipe_probe.py fidelity --reference cifar10 --base truth --name truth --cells 24
    # ... the same task with every CIFAR-10 training image we have (1,000 per class), same steps
    nice python bench/recipe_probe.py fidelity --reference cifar10 --base truth --name truth-1000pc \
        --set train_per_class=1000 --cells 24
    # summary of every probed config -> bench/results/recipe_probe.json
    python bench/recipe_probe.py report --choose mini-v1

``--set key=value`` changes recipe fields of ``--base`` (a built-in recipe, default mini; e.g.
``--set N=1 epochs=6``); ``--name`` labels the config. Runs are appended one JSON line each to
bench/results/probe_runs/<name>.<probe>.jsonl, so an interrupted probe resumes where it stopped. Cells are drawn uniformly (seed 0) from the
6,466 unique cells (for CIFAR-10: from the 200 cells with a curve); the first C of that draw are
used, so larger probes extend smaller ones.

The CIFAR-10 reference measures the benchmark's own truth rather than a candidate recipe: how
far the truth recipe's labels on a 10-class task of 2,000 training images are from proper
training, and whether more training images (at the same number of steps) close that gap. It
chooses no recipe for meta-training (that was chosen on the two references above).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from metad2a.bench.provenance import machine
from metad2a.database.tasks import load_task_images, make_meta_train_tasks, meta_test_tasks, reference_task
from metad2a.metrics import kendall_tau, spearman
from metad2a.recipe import Recipe, get_recipe, recipe_hash

RESULTS = Path(__file__).resolve().parent / "results"
RUNS = RESULTS / "probe_runs"
# Runs before 2026-12-06 did not record their machine; they all ran on this one.
UNRECORDED_CPU = "AMD EPYC (2 cores), no GPU"
PROBE_TASK_SEED = 777  # probe tasks are drawn apart from the collection's (seed 0)
# Probe file suffix -> (reference task, NB201 column it is compared with). "fidelity" is the
# 120-class Tiny-ImageNet stand-in for ImageNet16-120 (the first probe; its files keep the name).
# "cifar10_valid_200": the last point of NB201's 200-epoch cifar10-valid curves (200 cells).
REFERENCES = {"fidelity": ("imagenet16", "imagenet16_120_test"), "fidelity-cifar100": ("cifar100", "cifar100_test"),
              "fidelity-cifar10": ("cifar10", "cifar10_valid_200")}
META_TEST_REFERENCES = ("cifar100", "cifar10")


def reference_truth(column: str) -> dict[str, float]:
    """arch -> NB201's 200-epoch accuracy in ``column`` (a test-accuracy column, or cifar10_valid_200)."""
    from metad2a.nb201_tables import cifar10_valid_200, test_accuracy

    if column == "cifar10_valid_200":
        return cifar10_valid_200()
    return {a: v[column] for a, v in test_accuracy().items()}


def probe_cells(n: int, reference: str = "imagenet16") -> list[str]:
    """The first n cells of a fixed uniform draw (without replacement) from the unique cells, or for
    the CIFAR-10 reference from the cells that have a cifar10-valid curve (in NB201 index order)."""
    from metad2a.space import unique_cells

    pool = list(reference_truth("cifar10_valid_200")) if reference == "cifar10" else unique_cells()
    order = np.random.default_rng(0).permutation(len(pool))
    return [pool[i] for i in order[:n]]


def parse_set(items: list[str], base: Recipe) -> Recipe:
    changes = {}
    for item in items:
        key, _, raw = item.partition("=")
        kind = type(getattr(base, key))
        changes[key] = raw.lower() in ("1", "true", "yes") if kind is bool else kind(raw)
    return base.with_(**changes)


def run_probe(args) -> None:
    import torch

    from metad2a.recipe import train_cell

    torch.set_num_threads(args.threads)
    recipe = parse_set(args.set, get_recipe(args.base))
    if args.probe == "noise":
        tasks = make_meta_train_tasks(args.tasks, args.k, recipe.train_per_class, recipe.test_per_class,
                                      seed=PROBE_TASK_SEED)
        seeds = list(range(args.seeds))
    elif args.reference == "imagenet16" and recipe.steps == 0:  # the first probes' stand-in, as they ran it
        tasks = [reference_task("imagenet16", recipe.train_per_class, recipe.test_per_class)]
        seeds = list(range(args.seeds))
    elif args.reference == "cifar10":  # the benchmark's truth-recipe task itself
        tasks = meta_test_tasks(recipe.train_per_class, recipe.test_per_class, datasets=["cifar10"])
        seeds = list(range(args.seeds))
    else:
        tasks = [reference_task(args.reference)]
        seeds = list(range(args.seeds))
    probe = args.probe if args.reference == "imagenet16" else f"{args.probe}-{args.reference}"
    cells = probe_cells(args.cells, args.reference if args.probe == "fidelity" else "imagenet16")
    # Seed-major order: every cell gets seed 0 before any gets seed 1, so a partial probe ranks all cells once.
    jobs = [(t, c, s) for t in tasks for s in seeds for c in cells][args.part :: args.nparts]
    out = RUNS / f"{args.name}.{probe}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    h = recipe_hash(recipe)
    done = {(r["task_id"], r["arch"], r["seed"]) for r in read_runs(out) if r["recipe_hash"] == h}
    cpu = machine()["summary"]
    images = None
    for t, c, s in jobs:
        if (t.task_id, c, s) in done:
            continue
        if images is None or images.spec.task_id != t.task_id:
            images = load_task_images(t, recipe.resolution, meta_test_ok=args.reference in META_TEST_REFERENCES)
        r = train_cell(c, images.train_x, images.train_y, images.test_x, images.test_y, t.num_classes, recipe, s)
        r.update(task_id=t.task_id, probe=probe, name=args.name, load1=os.getloadavg()[0],
                 recipe=recipe.to_dict(), time=time.time(), cpu=cpu)
        with open(out, "a") as f:  # one line per run: a crash loses at most the run in flight
            f.write(json.dumps(r) + "\n")
        print(f"{args.name} {t.task_id} seed {s} wall {r['wall_s']:.1f}s cpu {r['cpu_s']:.1f}s "
              f"target {r['target']:.2f} {c}", flush=True)


def read_runs(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a line cut by a kill
            pass
    return rows


def _med(xs) -> float | None:
    return float(statistics.median(xs)) if xs else None


def _alt_targets(r: dict) -> dict[str, float]:
    """Targets computable after the fact from a run's curves (to compare smoothing choices)."""
    acc = r["test_acc"]
    out = {f"mean_last_{k}": float(np.mean(acc[-k:])) for k in range(1, len(acc) + 1)}
    out["neg_test_loss"] = -r["test_loss"][-1]
    return out


def summarise_noise(runs: list[dict]) -> dict:
    """Per task: Spearman between seed 0 and seed 1 over the cells that have both."""
    by = defaultdict(lambda: defaultdict(dict))
    for r in runs:
        by[r["task_id"]][r["arch"]][r["seed"]] = r
    per_task, per_task_final, per_task_loss = {}, {}, {}
    for t, cells in sorted(by.items()):
        both = [c for c in cells if 0 in cells[c] and 1 in cells[c]]
        if len(both) < 5:
            continue
        per_task[t] = spearman([cells[c][0]["target"] for c in both], [cells[c][1]["target"] for c in both])
        per_task_final[t] = spearman([cells[c][0]["final_acc"] for c in both], [cells[c][1]["final_acc"] for c in both])
        per_task_loss[t] = spearman([-cells[c][0]["test_loss"][-1] for c in both],
                                    [-cells[c][1]["test_loss"][-1] for c in both])
    alt = defaultdict(list)
    for t, cells in by.items():
        both = [c for c in cells if 0 in cells[c] and 1 in cells[c]]
        if len(both) < 5:
            continue
        a0 = [_alt_targets(cells[c][0]) for c in both]
        a1 = [_alt_targets(cells[c][1]) for c in both]
        for key in a0[0]:
            alt[key].append(spearman([x[key] for x in a0], [x[key] for x in a1]))
    n_cells = {t: sum(1 for c in cells.values() if 0 in c and 1 in c) for t, cells in by.items()}
    # Not the issue's fidelity (that needs the 120-class task): the k-class tasks' seed-mean
    # ranking against ImageNet16-120, a cheap hint while exploring.
    from metad2a.nb201_tables import test_accuracy

    truth = test_accuracy()
    proxy = [spearman([np.mean([r["target"] for r in cells[c].values()]) for c in cells],
                      [truth[c]["imagenet16_120_test"] for c in cells]) for cells in by.values() if len(cells) > 4]
    targets = [r["target"] for r in runs]
    return {
        "runs": len(runs), "tasks": len(per_task), "cells_per_task": n_cells,
        "seed_spearman_per_task": {t: round(v, 4) for t, v in per_task.items()},
        "seed_spearman": float(np.mean(list(per_task.values()))) if per_task else None,
        "seed_spearman_final_acc": float(np.mean(list(per_task_final.values()))) if per_task_final else None,
        "seed_spearman_test_loss": float(np.mean(list(per_task_loss.values()))) if per_task_loss else None,
        "seed_spearman_by_target": {k: round(float(np.mean(v)), 4) for k, v in alt.items()},
        "k_class_vs_imagenet16_spearman": float(np.mean(proxy)) if proxy else None,
        "median_wall_s": _med([r["wall_s"] for r in runs]), "median_cpu_s": _med([r["cpu_s"] for r in runs]),
        "median_load1": _med([r.get("load1", 0) for r in runs]),
        "target_range": [min(targets), max(targets)] if targets else None,
    }


def summarise_fidelity(runs: list[dict], column: str = "imagenet16_120_test") -> dict:
    """Spearman / Kendall of the seed-mean target against an NB201 column (200-epoch truth)."""
    truth = reference_truth(column)
    by = defaultdict(list)
    for r in runs:
        by[r["arch"]].append(r["target"])
    archs = sorted(by)
    ours = [float(np.mean(by[a])) for a in archs]
    ref = [truth[a] for a in archs]
    alts = defaultdict(lambda: defaultdict(list))
    for r in runs:
        for key, v in _alt_targets(r).items():
            alts[key][r["arch"]].append(v)
    by_target = {key: round(spearman([np.mean(v[a]) for a in archs], ref), 4) for key, v in alts.items()} \
        if len(archs) > 2 else {}
    seed0 = {r["arch"]: r["target"] for r in runs if r["seed"] == 0}
    seed1 = {r["arch"]: r["target"] for r in runs if r["seed"] == 1}
    a0 = sorted(seed0)
    both = sorted(set(seed0) & set(seed1))
    return {
        "seed_spearman": spearman([seed0[a] for a in both], [seed1[a] for a in both]) if len(both) > 4 else None,
        "cells_two_seeds": len(both),
        "runs": len(runs), "cells": len(archs),
        "fidelity_spearman": spearman(ours, ref) if len(archs) > 2 else None,
        "fidelity_kendall": kendall_tau(ours, ref) if len(archs) > 2 else None,
        "fidelity_spearman_by_target": by_target,
        "fidelity_spearman_seed0": spearman([seed0[a] for a in a0], [truth[a] for a in a0])
        if len(a0) > 2 else None,
        "median_wall_s": _med([r["wall_s"] for r in runs]), "median_cpu_s": _med([r["cpu_s"] for r in runs]),
        "median_load1": _med([r.get("load1", 0) for r in runs]),
        "target_range": [min(ours), max(ours)] if ours else None,
    }


def report(args) -> None:
    configs = {}
    for path in sorted(RUNS.glob("*.jsonl")):
        name, probe = path.stem.rsplit(".", 1)
        runs = read_runs(path)
        if not runs:
            continue
        entry = configs.setdefault(name, {"recipe": runs[0]["recipe"], "recipe_hash": runs[0]["recipe_hash"]})
        entry[probe] = summarise_noise(runs) if probe == "noise" else summarise_fidelity(runs, REFERENCES[probe][1])
    cpus = sorted({r.get("cpu", UNRECORDED_CPU) for path in RUNS.glob("*.jsonl") for r in read_runs(path)})
    result = {"configs": configs, "cpu": f"{'; '.join(cpus)}; shared with other jobs (see median_load1)",
              "commands": [" ".join(["python", "bench/recipe_probe.py", *sys.argv[1:]])]}
    if args.choose:
        c = configs[args.choose]
        # Probes of the same recipe run under another name (e.g. the CIFAR-10 task-size probe) count too.
        # The chosen config's own probes win over those of same-hash configs.
        probes = {k: v for o in configs.values() if o["recipe_hash"] == c["recipe_hash"] for k, v in o.items()}
        probes.update(c)
        ref = {"imagenet16_120": probes.get("fidelity", {}), "cifar100": probes.get("fidelity-cifar100", {})}
        if "fidelity-cifar10" in probes:  # at the meta-test task size (10 classes, 200 train per class)
            ref["cifar10_task"] = probes["fidelity-cifar10"]
        cost = c.get("noise") or c.get("fidelity-cifar100") or {}
        result["chosen"] = {
            "name": args.choose, "recipe_hash": c["recipe_hash"], "recipe": c["recipe"],
            # seed noise: the noise probe's k-class tasks, else the reference tasks' two seeds
            "seed_spearman": c.get("noise", {}).get("seed_spearman") or ref["cifar100"].get("seed_spearman"),
            "fidelity_spearman": ref["imagenet16_120"].get("fidelity_spearman"),
            "fidelity": {k: v.get("fidelity_spearman") for k, v in ref.items()},
            "fidelity_cells": {k: v.get("cells") for k, v in ref.items()},
            "median_wall_s": cost.get("median_wall_s"),
            "median_cpu_s": cost.get("median_cpu_s"),
        }
    RESULTS.mkdir(parents=True, exist_ok=True)
    dst = RESULTS / "recipe_probe.json"
    tmp = dst.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, dst)
    print(fidelity_table(configs))


def _fmt(v, digits: int = 3) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def fidelity_table(configs: dict) -> str:
    """Markdown: every probed config's fidelity to both references, seed noise and cost."""
    rows = ["| config | steps (epochs) | batch | C, N | train images / class | fidelity ImageNet16-120 (cells) "
            "| fidelity CIFAR-100 (cells) | fidelity CIFAR-10 task (cells) | seed Spearman | CPU s / run (median) "
            "| CPU ms per image-step |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, c in configs.items():
        r = c["recipe"]
        n, fi, fc = c.get("noise", {}), c.get("fidelity", {}), c.get("fidelity-cifar100", {})
        f10 = c.get("fidelity-cifar10", {})
        probe = "fidelity-cifar100" if fc else "fidelity" if fi else "fidelity-cifar10" if f10 else "noise"
        cost = fc or fi or f10 or n
        seed = n.get("seed_spearman") if n else (fc or f10).get("seed_spearman")
        steps = r.get("steps", 0)
        runs = read_runs(RUNS / f"{name}.{probe}.jsonl")
        per_step = [1000 * x["cpu_s"] / (len(x["train_loss"]) and _steps(x, r)) / r["batch_size"] for x in runs]
        # CIFAR-100's reference task always has 70 per class; the other tasks take the recipe's
        per_class = " / ".join([*(["70 (CIFAR-100)"] if fc else []),
                                *([str(r["train_per_class"])] if fi or f10 or n else [])])
        rows.append(f"| {name} | {steps or '—'} ({r['epochs'] if not steps else 'fixed steps'}) | {r['batch_size']} "
                    f"| {r['C']}, {r['N']} | {per_class} | {_fmt(fi.get('fidelity_spearman'))} ({fi.get('cells', 0)}) "
                    f"| {_fmt(fc.get('fidelity_spearman'))} ({fc.get('cells', 0)}) "
                    f"| {_fmt(f10.get('fidelity_spearman'))} ({f10.get('cells', 0)}) | {_fmt(seed)} "
                    f"| {_fmt(cost.get('median_cpu_s'), 1)} | {_fmt(_med(per_step), 3)} |")
    return "\n".join(rows)


def _steps(run: dict, recipe: dict) -> int:
    """SGD steps a run took: its epochs times the batches per epoch of its task."""
    n_train = {"cifar100": 70 * 100}.get(run["task_id"])
    if n_train is None:
        n_train = recipe["train_per_class"] * run["num_classes"]
    return len(run["train_loss"]) * -(-n_train // recipe["batch_size"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("probe", choices=["noise", "fidelity", "report"])
    ap.add_argument("--name", default="mini")
    ap.add_argument("--set", nargs="*", default=[], help="recipe overrides key=value")
    ap.add_argument("--tasks", type=int, default=5)
    ap.add_argument("--k", type=int, default=10, help="classes per noise task")
    ap.add_argument("--cells", type=int, default=30)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--part", type=int, default=0)
    ap.add_argument("--nparts", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reference", choices=["imagenet16", *META_TEST_REFERENCES], default="imagenet16",
                    help="fidelity: the task with a full-training reference")
    ap.add_argument("--base", default="mini", help="the built-in recipe --set changes (mini, truth, full)")
    ap.add_argument("--choose", default=None, help="report: the config to record as chosen")
    args = ap.parse_args()
    report(args) if args.probe == "report" else run_probe(args)


if __name__ == "__main__":
    main()
