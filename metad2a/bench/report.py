"""What the benchmark writes: ``transfer.json``, ``transfer_scores.json`` and ``transfer.md``.

``transfer.json``::

    {"datasets":   {task: {method: {"truth", "accuracy", "accuracy_std", "percentile", "percentile_std",
                                    "regret", "regret_std", "spearman", "spearman_std", "kendall",
                                    "kendall_std", "search_s", "search_s_timings", "cells_trained",
                                    "n_seeds", "picks", "runs": [per-seed rows]}}},
     "truth":      {dataset: what its ground truth is: a recipe's name, or "nb201-cifar100"},
     "aggregates": {"tiny-imagenet-test" | "lodo-<source>": {method: mean and std over the tasks' means,
                    n_tasks, truth}},
     "mean_rank":  {"rule", "datasets", "methods": {method: {"mean_rank", "n_datasets", "ranks"}}},
     "targets":    the issue's targets, each met or missed and by how much (``check_targets``),
     "notes":      what was skipped or restricted, one line each,
     "protocol":   tasks, seeds, ground truth, recipes, fingerprints, date, machine, command, config}

A dataset is a meta-test dataset (one task) or a group of meta-training tasks (a held-out
domain, the Tiny-ImageNet test tasks). nan (e.g. Spearman of a method without scores) is
written as null. ``transfer_scores.json`` holds, per task, the evaluated cells, their ground
truth and each scoring method's scores (what the rank scatter plot is drawn from).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from metad2a.bench.metrics import mean_ranks
from metad2a.bench.runner import BenchResult

HEADLINE, AGNOSTIC, LOOKUP, NASWOTS = "metad2a", "meta_agnostic", "nb201_in16_lookup", ("naswot_100", "naswot_evaluated")
CIFAR100, CIFAR100_MIN, CIFAR100_STRETCH = "cifar100", 72.5, 72.9  # 72.9: the ImageNet16-120 lookup's pick
TOP_PERCENTILE, MIN_SPEARMAN = 95.0, 0.7
MEAN_RANK_RULE = ("on each held-out dataset (a meta-test dataset, or a group of tasks by its mean over them) the "
                  "methods are ranked by pick accuracy, 1 = best; tied methods share the mean of the ranks they "
                  "span; a method without an accuracy on a dataset is left out of its ranking and its mean is "
                  "over the datasets it has (n_datasets); a table covering only some cells (cifar10-nb201) is "
                  "not ranked: most methods' picks have no truth there")


def clean(obj: Any) -> Any:
    """JSON-safe copy: nan and inf become None, numpy scalars plain Python numbers."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [clean(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def rank_table(result: BenchResult) -> dict:
    """Each method's mean rank by pick accuracy across the held-out datasets (``metrics.mean_ranks``),
    partial tables left out (``MEAN_RANK_RULE``)."""
    partial = {d for d, ts in result.datasets().items() if ts[0].partial_table}
    rows = {d: ms for d, ms in result.dataset_rows().items() if d not in partial}
    accuracy = {d: {m: s["accuracy"] for m, s in ms.items()} for d, ms in rows.items()}
    return {"rule": MEAN_RANK_RULE, "datasets": list(rows), "methods": mean_ranks(accuracy)}


def _target(name: str, dataset: str | None, value: float | None, threshold: float | None,
            higher_is_better: bool = True, strict: bool = False) -> dict:
    """One target: met when value >= threshold (or <= when lower is better; with ``strict``, a tie
    misses: "ahead of" means better); ``by`` > 0 is the margin."""
    if value is None or threshold is None or not math.isfinite(value):
        return {"target": name, "dataset": dataset, "value": None, "threshold": threshold, "met": None, "by": None}
    by = value - threshold if higher_is_better else threshold - value
    return {"target": name, "dataset": dataset, "value": float(value), "threshold": float(threshold),
            "met": bool(by > 0 if strict else by >= 0), "by": float(by)}


def check_targets(result: BenchResult) -> list[dict]:
    """The issue's targets for the methods that ran, each met or missed and by how much (``by``).

    - CIFAR-100 (table truth): MetaD2A's pick >= 72.5%; stretch: >= the ImageNet16-120 lookup's
      pick (its measured accuracy when it ran, else 72.9%);
    - each meta-test dataset with trained truth and each held-out domain (mean over its tasks):
      MetaD2A's pick in the top 5% of the evaluated cells (percentile >= 95) and Spearman >= 0.7;
    - MetaD2A ahead of the lookup, each NASWOT variant and the agnostic twin in mean rank
      (``by`` = the rival's mean rank minus MetaD2A's; a tie is not ahead);
    - search seconds: reported per dataset, not judged here (the 3 s / 10 s targets are for the
      whole ``generate.py`` command: ``bench/generate_speed.py``).
    """
    if HEADLINE not in result.methods:
        return []
    rows, out = result.dataset_rows(), []
    tasks = result.datasets()
    if CIFAR100 in rows and tasks[CIFAR100][0].table is not None:
        acc = rows[CIFAR100][HEADLINE]["accuracy"]
        stretch = rows[CIFAR100][LOOKUP]["accuracy"] if LOOKUP in rows[CIFAR100] else CIFAR100_STRETCH
        out.append(_target(f"CIFAR-100 pick >= {CIFAR100_MIN}%", CIFAR100, acc, CIFAR100_MIN))
        out.append(_target("CIFAR-100 pick >= the ImageNet16-120 lookup's (stretch)", CIFAR100, acc, stretch))
    for d, ts in tasks.items():
        if ts[0].table is not None or not (ts[0].role == "meta-test" or ts[0].held_out_source):
            continue
        s = rows[d][HEADLINE]
        out.append(_target("pick in the top 5% of evaluated cells (percentile)", d, s["percentile"], TOP_PERCENTILE))
        out.append(_target(f"Spearman >= {MIN_SPEARMAN}", d, s["spearman"], MIN_SPEARMAN))
    ranks = rank_table(result)["methods"]
    for rival in (LOOKUP, *NASWOTS, AGNOSTIC):
        if rival in ranks:
            out.append(_target(f"mean rank ahead of {rival} (lower is better)", None, ranks[HEADLINE]["mean_rank"],
                               ranks[rival]["mean_rank"], higher_is_better=False, strict=True))
    for d, ms in rows.items():
        out.append({"target": "search seconds (reported only)", "dataset": d, "value": ms[HEADLINE]["search_s"],
                    "threshold": None, "met": None, "by": None})
    return out


def notes(result: BenchResult, protocol: dict) -> list[str]:
    """What was skipped (``protocol["skipped"]``: from loading the tasks) or restricted (a method scoring a
    subset, picks outside a partial table)."""
    out = list(protocol.get("skipped", []))
    for t in result.tasks:
        for m, r in result.results[t.name].items():
            if t.partial_table:
                missing = sum(not math.isfinite(x["accuracy"]) for x in r.runs)
                if missing:
                    out.append(f"{m} on {t.name}: {missing} of {len(r.runs)} picks are not among the table's "
                               f"{len(t.table.archs):,} cells (no truth; its accuracy is over the rest, if any)")
            scored = [x["scored"] for x in r.runs if "scored" in x]  # results cached before v2 lack it
            if r.scores is not None and scored and max(scored) < len(t.archs):
                out.append(f"{m} on {t.name}: Spearman over a fixed random subset of {max(scored):,} of its "
                           f"{len(t.archs):,} evaluated cells")
    return out


def to_json(result: BenchResult, protocol: dict) -> dict:
    truth = result.truth()
    datasets = {}
    for t in result.tasks:
        datasets[t.name] = {m: {"truth": t.truth} | r.summary | {"search_s_timings": r.timings,
                                                                 "picks": [x["pick"] for x in r.runs], "runs": r.runs}
                            for m, r in result.results[t.name].items()}
    aggregates = {g: {m: {"truth": truth[g]} | s for m, s in rows.items()} for g, rows in result.aggregates().items()}
    return clean({"datasets": datasets, "truth": truth, "aggregates": aggregates, "mean_rank": rank_table(result),
                  "targets": check_targets(result), "notes": notes(result, protocol), "protocol": protocol})


def scores_json(result: BenchResult) -> dict:
    out = {}
    for t in result.tasks:
        scored = {m: r.scores for m, r in result.results[t.name].items() if r.scores is not None}
        out[t.name] = {"archs": list(t.archs), "true": [float(a) for a in t.accs], "scores": scored}
    return clean({"datasets": out})


def _cell(s: dict, key: str, digits: int) -> str:
    v = s.get(key)
    if v is None or not math.isfinite(v):
        return "—"
    sd = s.get(f"{key}_std")
    show_sd = sd is not None and math.isfinite(sd) and (s.get("n_seeds", 1) > 1 or s.get("n_tasks", 1) > 1)
    return f"{v:.{digits}f} ± {sd:.{digits}f}" if show_sd else f"{v:.{digits}f}"


def method_table(rows: dict[str, dict]) -> str:
    """A markdown table: one row per method of summaries (``summarize_runs`` / ``aggregate_tasks``)."""
    lines = ["| method | accuracy (%) | percentile | regret | Spearman | Kendall | search s | cells trained | seeds |",
             "|---|---|---|---|---|---|---|---|---|"]
    for m, s in rows.items():
        seeds = s.get("n_seeds", "")
        search = f"{s['search_s']:.3g}" if s.get("search_s") is not None and math.isfinite(s["search_s"]) else "—"
        lines.append(f"| {m} | {_cell(s, 'accuracy', 2)} | {_cell(s, 'percentile', 1)} | {_cell(s, 'regret', 2)} | "
                     f"{_cell(s, 'spearman', 3)} | {_cell(s, 'kendall', 3)} | {search} | "
                     f"{s['cells_trained']:.0f} | {seeds} |")
    return "\n".join(lines)


def _number(v: float | None, digits: int = 2) -> str:
    return "—" if v is None or not math.isfinite(v) else f"{v:.{digits}f}"


def targets_table(targets: list[dict]) -> list[str]:
    yes = {True: "met", False: "**missed**", None: "—"}
    lines = ["| target | dataset | value | threshold | result | by |", "|---|---|---|---|---|---|"]
    for t in targets:
        lines.append(f"| {t['target']} | {t['dataset'] or 'all'} | {_number(t['value'], 3)} | "
                     f"{_number(t['threshold'], 3)} | {yes[t['met']]} | {_number(t['by'], 3)} |")
    return lines


def rank_lines(ranks: dict) -> list[str]:
    """The mean-rank table: one row per method, best first, with its rank on each dataset."""
    ds = ranks["datasets"]
    lines = ["| method | mean rank | datasets | " + " | ".join(ds) + " |", "|---|---|---|" + "---|" * len(ds)]
    order = sorted(ranks["methods"].items(), key=lambda kv: (not math.isfinite(kv[1]["mean_rank"]), kv[1]["mean_rank"]))
    for m, r in order:
        per = " | ".join(_number(r["ranks"].get(d), 1) for d in ds)
        lines.append(f"| {m} | {_number(r['mean_rank'], 2)} | {r['n_datasets']} | {per} |")
    return lines + ["", f"Rule: {ranks['rule']}."]


def _heading(name: str, ts: list) -> str:
    """A dataset's heading: its truth, evaluated cells and seeds (or tasks), and how it was held out."""
    t = ts[0]
    if t.partial_table:
        return (f"## {name} (truth: {t.truth}, for its {len(t.table.archs):,} cells only; Spearman over their "
                f"{len(t.archs):,} unique cells; percentile among the {len(t.table.archs):,}; a pick outside "
                "them has no truth: —)")
    if t.table is not None:
        return (f"## {name} (truth: {t.truth}, exact for all {len(t.table.archs):,} cells; Spearman over "
                f"{len(t.archs):,} unique cells; percentile among all {len(t.table.archs):,} cells)")
    held = f"; models retrained without {t.held_out_source}" if t.held_out_source else ""
    if len(ts) == 1 and t.role == "meta-test":
        return f"## {name} (truth: {t.truth}; {len(t.archs)} evaluated cells, seeds {list(t.seeds)})"
    cells = sorted({len(x.archs) for x in ts})
    span = f"{cells[0]}" if len(cells) == 1 else f"{cells[0]}–{cells[-1]}"
    return f"## {name} (truth: {t.truth}; mean ± std over {len(ts)} tasks of {span} evaluated cells{held})"


def to_markdown(result: BenchResult, protocol: dict) -> str:
    """The report: provenance, targets, mean rank, one table per held-out dataset, notes, then per task."""
    p = protocol
    out = ["# Transfer benchmark", "",
           f"`{p.get('command', 'python -m metad2a.bench')}` on {p.get('date', '?')}, "
           f"{p.get('machine', {}).get('summary', '?')}.", "",
           "Ground truth, per dataset (the `truth` named in each heading):", ""]
    out += [f"- {line}" for line in p.get("ground_truth_by_kind", [p.get("ground_truth", "")])] + [""]
    out += ["Accuracy is the chosen cell's true accuracy; percentile is its rank among the task's evaluated "
            "cells, or among all cells of a truth table (100 = beats all); regret is the best of those minus "
            "the pick's (negative: it beats them all). Stochastic methods: mean ± std over seeds; "
            "search s: median of the timings.", ""]
    targets = check_targets(result)
    if targets:
        out += ["## Targets", ""] + targets_table(targets) + ["",
                "`by`: the margin (positive: met). Search seconds are MetaD2A's search alone; the 3 s (10-class "
                "folder) and 10 s (CIFAR-100) targets are for the whole `generate.py` command "
                "(`python bench/generate_speed.py`).", ""]
    out += ["## Mean rank across held-out datasets", ""] + rank_lines(rank_table(result)) + [""]
    rows = result.dataset_rows()
    for name, ts in result.datasets().items():
        out += [_heading(name, ts), "", method_table(rows[name]), ""]
    extra = notes(result, p)
    if extra:
        out += ["## Notes", ""] + [f"- {n}" for n in extra] + [""]
    grouped = [t for ts in result.groups().values() for t in ts]
    if grouped:
        out += ["## Per task", ""]
        for t in grouped:
            out += [f"### {t.name} ({t.dataset}; truth: {t.truth}; {len(t.archs)} evaluated cells, seeds "
                    f"{list(t.seeds)})", "", method_table({m: r.summary for m, r in result.results[t.name].items()}), ""]
    return "\n".join(out).rstrip() + "\n"
