"""The benchmark's PNG plots (matplotlib, headless).

- ``accuracy_vs_search_s.png``: per dataset (each meta-test dataset, each aggregated group of
  meta-training tasks), every method's chosen-cell accuracy (± std over seeds or tasks)
  against its search seconds, log scale.
- ``regret_by_dataset.png``: per dataset, each method's regret to the oracle (the best
  evaluated cell, or a truth table's best cell) in accuracy points, ± std over seeds or tasks.
- ``meta_rank_scatter.png``: per task, the meta-predictor's predicted rank of each evaluated
  cell against its true rank (0 = best), with the within-task Spearman.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from metad2a.bench.metrics import ranks
from metad2a.bench.runner import BenchResult
from metad2a.errors import MetaD2AError

MIN_SECONDS = 1e-4  # zero-cost methods (random choice) are drawn here on the log axis


def _pyplot():
    try:
        import matplotlib
    except ImportError as e:
        raise MetaD2AError("the benchmark plots need matplotlib: pip install -e '.[plot]'") from e
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _grid(plt, n: int, ncols: int = 3, size: float = 4.0):
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def accuracy_vs_search(result: BenchResult, path: str | os.PathLike) -> Path:
    """Chosen-cell accuracy against search seconds, one panel per dataset or task group."""
    plt = _pyplot()
    groups = result.groups()
    panels = {(f"{d} (mean of tasks)" if d in groups else d): rows for d, rows in result.dataset_rows().items()}
    fig, axes = _grid(plt, max(len(panels), 1))
    colours = {m: plt.cm.tab20(i % 20) for i, m in enumerate(result.methods)}  # 11 methods: no repeats
    markers = "os^Dv<>ph*XP"
    for ax, (title, rows) in zip(axes, panels.items()):
        for i, (m, s) in enumerate(rows.items()):
            x = max(s["search_s"], MIN_SECONDS) if math.isfinite(s["search_s"]) else MIN_SECONDS
            sd = s.get("accuracy_std")
            ax.errorbar([x], [s["accuracy"]], yerr=[sd if sd is not None and math.isfinite(sd) else 0.0],
                        fmt=markers[i % len(markers)], color=colours[m], capsize=3, label=m)
        ax.set_xscale("log")
        ax.set(title=title, xlabel="search seconds (log)", ylabel="chosen cell's true accuracy (%)")
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.tight_layout()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    return _save(fig, plt, path)


def regret_by_dataset(result: BenchResult, path: str | os.PathLike) -> Path:
    """Grouped bars: for each dataset, each method's regret to the oracle (points; lower is better)."""
    plt = _pyplot()
    rows = result.dataset_rows()
    datasets = list(rows)
    # The oracle (regret 0 everywhere by definition) is the axis itself.
    methods = [m for m in result.methods if any(np.isfinite(rows[d][m]["regret"]) and rows[d][m]["regret"] != 0.0
                                                for d in datasets)]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 * len(datasets) * max(1, len(methods)) / 4), 4.5))
    width = 0.8 / max(len(methods), 1)
    colours = {m: plt.cm.tab20(i % 20) for i, m in enumerate(result.methods)}
    for j, m in enumerate(methods):
        x = np.arange(len(datasets)) + (j - (len(methods) - 1) / 2) * width
        y = [rows[d][m]["regret"] for d in datasets]
        sd = [rows[d][m].get("regret_std") for d in datasets]
        err = [v if v is not None and math.isfinite(v) else 0.0 for v in sd]
        ax.bar(x, y, width, yerr=err, capsize=2, color=colours[m], label=m)
    ax.set_xticks(np.arange(len(datasets)), [f"{d}\n({result.truth()[d]})" for d in datasets], fontsize=8)
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set(ylabel="regret to the oracle (accuracy points)", title="Pick accuracy as regret to the oracle")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.legend(*ax.get_legend_handles_labels(), loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8,
               frameon=False)
    return _save(fig, plt, path)


def rank_scatter(result: BenchResult, method: str, path: str | os.PathLike) -> Path:
    """Predicted versus true rank of the evaluated cells under ``method``'s scores, one panel per task."""
    plt = _pyplot()
    tasks = [t for t in result.tasks if result.results[t.name].get(method) and result.results[t.name][method].scores]
    if not tasks:
        raise MetaD2AError(f"method {method!r} gave no scores of evaluated cells: set rank_scatter_method to a "
                           "scoring method (metad2a, meta_exhaustive, meta_agnostic, naswot_evaluated, graf_rf)")
    fig, axes = _grid(plt, len(tasks), ncols=4, size=3.2)
    for ax, t in zip(axes, tasks):
        r = result.results[t.name][method]
        ax.scatter(ranks(t.accs), ranks(r.scores), s=10, alpha=0.7)
        n = len(t.archs)
        ax.plot([0, n - 1], [0, n - 1], color="grey", lw=0.8)
        ax.set(title=f"{t.name}  ρ={r.summary['spearman']:.2f}", xlabel="true rank", ylabel="predicted rank")
    fig.suptitle(f"{method}: predicted vs true rank (0 = best)")
    fig.tight_layout()
    return _save(fig, plt, path)


def _save(fig, plt, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")  # keeps a legend placed outside the axes
    plt.close(fig)
    return path
