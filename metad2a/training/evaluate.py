"""Per-task ranking and selection metrics for any scorer, plus the random and agnostic baselines.

For each task (its evaluated cells and their true accuracies):

    spearman, kendall   within-task rank correlation of scores with true accuracy
    top1_regret         true best accuracy minus the true accuracy of the top-scored cell (points)
    pick_percentile     percentile of the top-scored cell among the task's cells (100 = best)

Summaries are plain means over tasks (nan correlations, from constant truth, are skipped).
The random baseline is exact rather than simulated: expected correlation 0, expected regret
the mean gap to the best, expected percentile the mean percentile.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import torch

from metad2a.database.features_store import load_task_data
from metad2a.database.task_data import TaskData
from metad2a.metrics import kendall_tau, pick_percentile, spearman, top1_regret
from metad2a.models.checkpoint import AGNOSTIC_FILE, GENERATOR_FILE, PREDICTOR_FILE
from metad2a.predictors.base import DatasetSample, Scorer
from metad2a.predictors.graf import GRAFScorer, pooled_zscores
from metad2a.predictors.meta import MetaGenerator, MetaPredictorScorer
from metad2a.space.quality import sample_quality

METRICS = ("spearman", "kendall", "top1_regret", "pick_percentile")


def dataset_sample(task: TaskData) -> DatasetSample:
    """What a scorer sees of a task: its name, class count, (C, N, D) features, and the recipe of its
    labels (so the meta-predictor ranks for the same training its truth comes from)."""
    return DatasetSample(name=task.task_id, num_classes=task.num_classes, features=torch.as_tensor(task.features),
                         recipe=task.recipe)


def task_metrics(scores: Sequence[float], accs: Sequence[float]) -> dict[str, float]:
    return {"spearman": spearman(scores, accs), "kendall": kendall_tau(scores, accs),
            "top1_regret": top1_regret(scores, accs), "pick_percentile": pick_percentile(scores, accs)}


def evaluate_scorer(scorer: Scorer, tasks: Sequence[TaskData]) -> list[dict]:
    """One row per task: task_id, split, n_cells and the four metrics."""
    rows = []
    for t in tasks:
        scores = np.asarray(scorer.score(t.archs, dataset_sample(t)), dtype=float)
        rows.append({"task_id": t.task_id, "split": t.split, "n_cells": len(t.archs)} | task_metrics(scores, t.accs))
    return rows


def random_baseline(tasks: Sequence[TaskData]) -> list[dict]:
    """Expected metrics of a uniformly random order / pick, per task."""
    rows = []
    for t in tasks:
        a = np.asarray(t.accs, dtype=float)
        pct = [100.0 * (a < x).sum() / max(len(a) - 1, 1) for x in a] if len(a) > 1 else [100.0]
        rows.append({"task_id": t.task_id, "split": t.split, "n_cells": len(a), "spearman": 0.0, "kendall": 0.0,
                     "top1_regret": float(np.mean(a.max() - a)), "pick_percentile": float(np.mean(pct))})
    return rows


def summarize(rows: Sequence[dict]) -> dict[str, float]:
    """Mean of each metric over tasks, with the task count and the standard error of Kendall."""
    out: dict[str, float] = {"n_tasks": len(rows)}
    for m in METRICS:
        v = np.array([r[m] for r in rows], dtype=float)
        v = v[~np.isnan(v)]
        out[m] = float(v.mean()) if len(v) else float("nan")
        if m == "kendall":
            out["kendall_se"] = float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")
    return out


def compare(scorers: Mapping[str, Scorer], tasks: Sequence[TaskData], include_random: bool = True) -> dict[str, dict]:
    """{name: summary} for each scorer, plus "random" (expected values)."""
    table = {name: summarize(evaluate_scorer(s, tasks)) for name, s in scorers.items()}
    if include_random:
        table["random"] = summarize(random_baseline(tasks))
    return table


def graf_baseline(train_tasks: Sequence[TaskData], seed: int = 0) -> Scorer:
    """GRAF-RF fitted on the pooled records of ``train_tasks``, accuracy z-scored within each task;
    the imported NB201 table task is left out (it would swamp the project's own runs)."""
    own = [(t.archs, t.accs) for t in train_tasks if t.recipe != "nb201-200ep"]
    return GRAFScorer(seed=seed, name="graf_rf").fit(*pooled_zscores(own))


def evaluate_checkpoints(checkpoint_dir: str | os.PathLike, tasks: Sequence[TaskData],
                         train_tasks: Sequence[TaskData] = ()) -> dict[str, dict]:
    """``compare`` for the exported meta-predictor, its dataset-agnostic twin (if saved), GRAF-RF
    on the pooled ``train_tasks`` (if given) and random."""
    d = Path(checkpoint_dir)
    scorers: dict[str, Scorer] = {"meta": MetaPredictorScorer(d / PREDICTOR_FILE)}
    if (d / AGNOSTIC_FILE).exists():
        scorers["meta_agnostic"] = MetaPredictorScorer(d / AGNOSTIC_FILE)
    if train_tasks:
        scorers["graf_rf"] = graf_baseline(train_tasks)
    return compare(scorers, tasks)


def generator_quality(checkpoint_dir: str | os.PathLike, tasks: Sequence[TaskData], n: int = 1000,
                      reference: set[str] = frozenset(), seed: int = 0) -> dict[str, float]:
    """Mean over ``tasks`` of ``sample_quality`` of n cells decoded from each task's features
    (novelty against ``reference``, e.g. every cell evaluated in meta-training)."""
    gen = MetaGenerator(Path(checkpoint_dir) / GENERATOR_FILE)
    rows = [sample_quality(gen.sample_cells(t.features, n, seed=seed), set(reference)) for t in tasks]
    return {k: float(np.mean([r[k] for r in rows])) for k in ("validity", "connected", "uniqueness", "novelty")} | {
        "n": n, "tasks": len(rows)}


def format_table(table: Mapping[str, Mapping[str, float]]) -> str:
    """A fixed-width text table of ``compare``'s output."""
    lines = [f"{'scorer':<16}{'tasks':>6}{'spearman':>10}{'kendall':>9}{'±se':>7}{'regret':>9}{'pick_pct':>10}"]
    for name, s in table.items():
        lines.append(f"{name:<16}{int(s['n_tasks']):>6}{s['spearman']:>10.3f}{s['kendall']:>9.3f}"
                     f"{s['kendall_se']:>7.3f}{s['top1_regret']:>9.2f}{s['pick_percentile']:>10.1f}")
    return "\n".join(lines)


def report_held_out(tasks: Sequence[TaskData], checkpoint_dir: str | os.PathLike, split: str | None = "test",
                    meta_test_db: str | os.PathLike | None = None, meta_test_features: str | os.PathLike | None = None,
                    samples: int = 1000, logger=None, echo=print) -> dict[str, dict]:
    """After meta-training: the exports on held-out tasks, printed, logged and returned.

    Groups: the ``split`` tasks of ``tasks`` (averaged; where they mix recipes, also each
    recipe's tasks as ``<split>/<recipe>``), and each meta-test dataset on its own when
    ``meta_test_db`` and its features file exist. Per group: ``evaluate_checkpoints``
    (meta, agnostic, GRAF-RF on the train split, random) and, if ``samples``, the generator's
    validity / uniqueness / novelty (novel = not evaluated on any train task).
    """
    train = [t for t in tasks if t.split == "train"]
    groups = {split: [t for t in tasks if t.split == split]} if split else {}
    recipes = sorted({t.recipe for t in groups.get(split, [])})
    if len(recipes) > 1:  # e.g. v1's mini-recipe test tasks beside v2's truth-recipe ones
        groups |= {f"{split}/{r}": [t for t in groups[split] if t.recipe == r] for r in recipes}
    if meta_test_db and os.path.isfile(meta_test_db) and meta_test_features and os.path.isfile(meta_test_features):
        dim = tasks[0].features.shape[-1]  # what the checkpoints were trained on
        for t in load_task_data(meta_test_db, meta_test_features, "meta-test"):
            if t.features.shape[-1] == dim:
                groups[t.task_id] = [t]
            else:  # e.g. a synthetic smoke run beside the shipped meta-test features
                echo(f"{t.task_id}: skipped, its features have dim {t.features.shape[-1]}, not {dim}")
    reference = {a for t in train for a in t.archs}
    out: dict[str, dict] = {}
    for name, group in groups.items():
        if not group:
            continue
        table = evaluate_checkpoints(checkpoint_dir, group, train)
        echo(f"{name} tasks:\n{format_table(table)}")
        out[name] = {"scorers": table}
        if samples:
            q = generator_quality(checkpoint_dir, group, samples, reference)
            echo(f"generator on {name}: {q['n']} samples per task, validity {q['validity']:.3f}, "
                 f"uniqueness {q['uniqueness']:.3f}, novelty {q['novelty']:.3f} (not evaluated in meta-training)")
            out[name]["generator"] = q
        if logger is not None:
            logger.summary({f"{name}/{s}/{k}": v for s, row in table.items() for k, v in row.items()}
                           | {f"{name}/generator/{k}": v for k, v in out[name].get("generator", {}).items()})
    return out
