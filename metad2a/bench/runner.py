"""Run every method on every task under one protocol, and score each choice.

For each method (one W&B run each, all in one group), each task and each seed (every seed
for a stochastic method, the first otherwise): ``method.run(task, seed)``, then the truth of
its pick(s) from ``GroundTruth`` and the metrics of ``bench.metrics``. Search seconds are the
median of at least ``timing_repeats`` timings: a method with fewer seed runs than that is
rerun on its first seed to fill them in (its pick does not change; only the clock is read).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from metad2a.bench.ground_truth import GroundTruth
from metad2a.bench.methods import Method, MethodRun
from metad2a.bench.metrics import aggregate_tasks, rank_metrics, summarize_runs
from metad2a.bench.tasks import BenchTask
from metad2a.training.logging import NullLogger


@dataclass
class MethodOnTask:
    """One method on one task.

    runs:    one row per seed: seed, pick, evaluated (the pick is one of the task's population:
             an evaluated cell, or any cell of a truth table), accuracy, percentile, regret,
             spearman, kendall, scored (evaluated cells with a score), cells_trained, search_s,
             candidates
    timings: every search_s measured (>= timing_repeats)
    scores:  the first run's scores of the evaluated cells (len(task.archs),), or None
    summary: ``summarize_runs(runs, timings)``
    """

    runs: list[dict]
    timings: list[float]
    scores: list[float] | None
    summary: dict


@dataclass
class BenchResult:
    """results[task name][method name]; tasks in benchmark order."""

    tasks: list[BenchTask]
    methods: list[str]
    results: dict[str, dict[str, MethodOnTask]] = field(default_factory=dict)

    def datasets(self) -> dict[str, list[BenchTask]]:
        """Every held-out dataset and its tasks, in benchmark order: a meta-test dataset is one task,
        a group of meta-training tasks several (e.g. "tiny-imagenet-test", "lodo-kannada")."""
        out: dict[str, list[BenchTask]] = {}
        for t in self.tasks:
            out.setdefault(t.dataset, []).append(t)
        return out

    def groups(self) -> dict[str, list[BenchTask]]:
        """The datasets made of meta-training tasks, which are aggregated over their tasks."""
        return {d: ts for d, ts in self.datasets().items() if ts[0].role == "meta-train"}

    def aggregates(self) -> dict[str, dict[str, dict]]:
        """{group: {method: aggregate_tasks over the group's tasks}}."""
        return {g: {m: aggregate_tasks([self.results[t.name][m].summary for t in ts]) for m in self.methods}
                for g, ts in self.groups().items()}

    def dataset_rows(self) -> dict[str, dict[str, dict]]:
        """{dataset: {method: summary}}: a single task's summary, or a group's aggregate over its tasks."""
        aggregates = self.aggregates()
        return {d: aggregates[d] if d in aggregates else {m: self.results[ts[0].name][m].summary
                                                          for m in self.methods}
                for d, ts in self.datasets().items()}

    def truth(self) -> dict[str, str]:
        """{dataset: what its ground truth is} (a recipe's name, or a table's such as "nb201-cifar100")."""
        return {d: "/".join(dict.fromkeys(t.truth for t in ts)) for d, ts in self.datasets().items()}


def evaluate_run(run: MethodRun, task: BenchTask, truth: GroundTruth, seed: int) -> dict:
    """The metrics of one run: its picks' truth (averaged when several are equally likely) and rank metrics."""
    rows, evaluated = [], []
    for arch in run.picks:
        acc, index = truth.lookup(task, arch)
        rows.append(task.population.pick_metrics(acc, member=index is not None))
        evaluated.append(index is not None)
    row = {"seed": int(seed), "pick": run.picks[0] if len(run.picks) == 1 else None, "evaluated": all(evaluated)}
    row |= {k: float(np.mean([r[k] for r in rows])) for k in ("accuracy", "percentile", "regret")}
    row |= rank_metrics(run.scores, task.accs)
    scored = 0 if run.scores is None else int(np.count_nonzero(~np.isnan(np.asarray(run.scores, dtype=float))))
    return row | {"scored": scored, "cells_trained": int(run.cells_trained), "search_s": float(run.search_s),
                  "candidates": int(run.candidates)}


def run_method(method: Method, task: BenchTask, truth: GroundTruth, seeds: Sequence[int],
               timing_repeats: int = 3) -> MethodOnTask:
    """Every seed of ``method`` on ``task`` (the first seed only when it is not stochastic)."""
    used = list(seeds) if method.stochastic else list(seeds[:1])
    runs, timings, scores = [], [], None
    for seed in used:
        run = method.run(task, seed)
        timings.append(run.search_s)
        runs.append(evaluate_run(run, task, truth, seed))
        if scores is None and run.scores is not None:
            scores = [float(s) for s in run.scores]
    while len(timings) < timing_repeats:
        timings.append(method.run(task, used[0]).search_s)
    return MethodOnTask(runs, timings, scores, summarize_runs(runs, timings))


def run_benchmark(tasks: Sequence[BenchTask], methods: Mapping[str, Method], truth: GroundTruth,
                  seeds: Sequence[int], timing_repeats: int = 3,
                  logger_for: Callable[[str], object] | None = None,
                  echo: Callable[[str], None] | None = print, cache=None) -> BenchResult:
    """Run ``methods`` (name -> method) on ``tasks``; ``logger_for(name)`` opens each method's log.

    ``cache`` (a ``bench.result_cache.ResultCache``) supplies finished (method, task) results and
    stores each new one as soon as it is done, so a stopped run loses at most one of them.
    """
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    result = BenchResult(list(tasks), list(methods))
    for name, method in methods.items():
        logger = logger_for(name) if logger_for else NullLogger()
        try:
            for step, task in enumerate(tasks):
                r = cache.get(name, task) if cache is not None else None
                cached = r is not None
                if r is None:
                    r = run_method(method, task, truth, seeds, timing_repeats)
                    if cache is not None:
                        cache.put(name, task, r)
                result.results.setdefault(task.name, {})[name] = r
                s = r.summary
                logger.log({f"{task.name}/{k}": v for k, v in s.items() if isinstance(v, (int, float))}, step=step)
                logger.summary({f"{task.name}/{k}": v for k, v in s.items()})
                if echo:
                    echo(f"{name:<18}{task.name:<20}acc {s['accuracy']:7.2f}  pct {s['percentile']:6.1f}  "
                         f"regret {s['regret']:6.2f}  spearman {s['spearman']:6.3f}  search {s['search_s']:.3g}s"
                         + ("  (cached)" if cached else ""))
            for group, ts in result.groups().items():
                agg = aggregate_tasks([result.results[t.name][name].summary for t in ts])
                logger.summary({f"{group}/{k}": v for k, v in agg.items()})
        finally:
            logger.finish()
    return result
