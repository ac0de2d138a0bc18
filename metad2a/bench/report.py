"""What the benchmark writes: ``transfer.json``, ``transfer_scores.json`` and ``transfer.md``.

``transfer.json``::

    {"datasets":   {task: {method: {"accuracy", "accuracy_std", "percentile", "percentile_std",
                                    "regret", "regret_std", "spearman", "spearman_std", "kendall",
                                    "kendall_std", "search_s", "search_s_timings", "cells_trained",
                                    "n_seeds", "picks", "runs": [per-seed rows]}}},
     "aggregates": {"tiny-imagenet-test": {method: mean and std over the tasks' means, n_tasks}},
     "targets":    the issue's targets checked on the meta-test datasets (see ``check_targets``),
     "protocol":   tasks, seeds, ground truth, recipes, fingerprints, date, machine, command, config}

nan (e.g. Spearman of a method without scores) is written as null. ``transfer_scores.json``
holds, per task, the evaluated cells, their ground truth and each scoring method's scores
(what the rank scatter plot is drawn from).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from metad2a.bench.runner import BenchResult

TOP_PERCENTILE, MIN_SPEARMAN, MIN_WINS = 95.0, 0.6, 2
HEADLINE, AGNOSTIC, NASWOTS = "metad2a", "meta_agnostic", ("naswot_100", "naswot_evaluated")


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


def check_targets(result: BenchResult) -> dict:
    """The issue's targets on each meta-test dataset, for the methods that ran.

    top5:     MetaD2A's pick in the top 5% of evaluated cells (mean percentile >= 95)
    spearman: MetaD2A's meta-predictor has within-task Spearman >= 0.6
    beats:    MetaD2A's pick is more accurate than the dataset-agnostic predictor's and every
              NASWOT variant's; the target is met on at least 2 of the 3 datasets
    """
    if HEADLINE not in result.methods:
        return {}
    rivals = [m for m in (AGNOSTIC, *NASWOTS) if m in result.methods]
    per: dict[str, dict] = {}
    for t in result.tasks:
        if t.role != "meta-test":
            continue
        r = result.results[t.name]
        s = r[HEADLINE].summary
        per[t.name] = {"top5": s["percentile"] >= TOP_PERCENTILE,
                       "spearman": (s["spearman"] >= MIN_SPEARMAN) if math.isfinite(s["spearman"]) else None,
                       "beats": all(s["accuracy"] > r[m].summary["accuracy"] for m in rivals) if rivals else None}
    if not per:
        return {}
    wins = sum(bool(p["beats"]) for p in per.values())
    return {"datasets": per, "rivals": rivals, "top5_all": all(p["top5"] for p in per.values()),
            "spearman_all": all(bool(p["spearman"]) for p in per.values()),
            "beats_count": wins, "beats_met": wins >= min(MIN_WINS, len(per))}


def to_json(result: BenchResult, protocol: dict) -> dict:
    datasets = {}
    for t in result.tasks:
        datasets[t.name] = {m: r.summary | {"search_s_timings": r.timings, "picks": [x["pick"] for x in r.runs],
                                            "runs": r.runs}
                            for m, r in result.results[t.name].items()}
    return clean({"datasets": datasets, "aggregates": result.aggregates(), "targets": check_targets(result),
                  "protocol": protocol})


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
        lines.append(f"| {m} | {_cell(s, 'accuracy', 2)} | {_cell(s, 'percentile', 1)} | {_cell(s, 'regret', 2)} | "
                     f"{_cell(s, 'spearman', 3)} | {_cell(s, 'kendall', 3)} | {s['search_s']:.3g} | "
                     f"{s['cells_trained']:.0f} | {seeds} |")
    return "\n".join(lines)


def to_markdown(result: BenchResult, protocol: dict) -> str:
    """The report: provenance, targets, one table per meta-test dataset and per aggregate, then per task."""
    p = protocol
    out = ["# Transfer benchmark", "",
           f"`{p.get('command', 'python -m metad2a.bench')}` on {p.get('date', '?')}, "
           f"{p.get('machine', {}).get('summary', '?')}.", "",
           f"Ground truth: {p.get('ground_truth', '')}", "",
           "Accuracy is the chosen cell's true accuracy; percentile is its rank among the task's evaluated "
           "cells (100 = beats all); regret is the best evaluated accuracy minus the pick's (negative: it "
           "beats them all). Stochastic methods: mean ± std over seeds; search s: median of the timings.", ""]
    targets = check_targets(result)
    if targets:
        out += ["## Targets (meta-test datasets)", "",
                "| dataset | MetaD2A pick in top 5% | MetaD2A Spearman ≥ 0.6 | beats agnostic and NASWOT |",
                "|---|---|---|---|"]
        yes = {True: "yes", False: "no", None: "—"}
        for ds, v in targets["datasets"].items():
            out.append(f"| {ds} | {yes[v['top5']]} | {yes[v['spearman']]} | {yes[v['beats']]} |")
        out += ["", f"Beats both on {targets['beats_count']} of {len(targets['datasets'])} datasets "
                f"(target: {MIN_WINS}).", ""]
    meta_test = [t for t in result.tasks if t.role == "meta-test"]
    for t in meta_test:
        out += [f"## {t.name} ({len(t.archs)} evaluated cells, seeds {list(t.seeds)})", "",
                method_table({m: r.summary for m, r in result.results[t.name].items()}), ""]
    for group, rows in result.aggregates().items():
        n = len(result.groups()[group])
        out += [f"## {group} (mean ± std over {n} tasks)", "", method_table(rows), ""]
    others = [t for t in result.tasks if t.role != "meta-test"]
    if others:
        out += ["## Per task", ""]
        for t in others:
            out += [f"### {t.name} ({len(t.archs)} evaluated cells, seeds {list(t.seeds)})", "",
                    method_table({m: r.summary for m, r in result.results[t.name].items()}), ""]
    return "\n".join(out).rstrip() + "\n"
