"""``python -m metad2a.bench``'s body: config -> tasks, methods, ground truth -> run -> write.

``run(cfg)`` works on any resolved config (a DictConfig from ``conf/bench/``), with or
without a Hydra runtime, and returns where everything went.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from metad2a.atomic import atomic_write_json, atomic_write_text
from metad2a.bench import plots
from metad2a.bench.config import BenchConfig
from metad2a.bench.ground_truth import GroundTruth
from metad2a.bench.provenance import fingerprints, machine, utc_now
from metad2a.bench.report import scores_json, to_json, to_markdown
from metad2a.bench.result_cache import ResultCache, method_key
from metad2a.bench.runner import BenchResult, run_benchmark
from metad2a.bench.tasks import LODO_FILES, BenchTask, load_bench_tasks, load_lodo_tasks, load_table_task
from metad2a.errors import MetaD2AError
from metad2a.recipe import recipe_hash
from metad2a.schema import refuse_unknown_keys
from metad2a.training.logging import make_logger

TRAINED_TRUTH = ("{truths}: the seed mean of the records' `target` under the task's recipe of that name; a pick "
                 "outside the evaluated cells (up to canonical form) is trained with that recipe and the same "
                 "seeds, and cached in {cache}")
TABLE_TRUTH = ("{name}: {about}; any pick is looked up (the cell's own row), never trained; percentile among "
               "all {n:,} cells, regret to the table's best ({best:.2f}), Spearman over the {m:,} unique cells")
PARTIAL_TRUTH = ("{name}: {about}; a pick is looked up, never trained, and one outside those cells has no truth "
                 "(—); percentile among the {n:,} cells, regret to their best ({best:.2f}), Spearman over their "
                 "{m:,} unique cells")


def load_tasks(cfg: DictConfig) -> tuple[list[BenchTask], list[str]]:
    """(tasks, notes on skipped rows): ``datasets.table``, ``meta_test``, ``lodo``, then the ``split`` tasks."""
    d = cfg.datasets
    tasks: list[BenchTask] = [load_table_task(name, d.table_features, cfg.data_root) for name in d.table]
    notes: list[str] = []
    if d.meta_test:
        tasks += load_bench_tasks(d.meta_test_db, d.meta_test_features, "meta-test", list(d.meta_test),
                                  recipe_hash=d.recipe_hash, data_root=cfg.data_root)
    if d.lodo:
        lodo, notes = load_lodo_tasks(d.meta_train_db, d.meta_train_features, list(d.lodo), d.lodo_dir,
                                      d.recipe_hash, cfg.data_root, d.lodo_max_tasks)
        tasks += lodo
    if d.split:
        tasks += load_bench_tasks(d.within_db, d.within_features, d.split,
                                  list(d.tasks) if d.tasks is not None else None, d.max_tasks,
                                  recipe_hash=d.recipe_hash, data_root=cfg.data_root)
    if not tasks:
        raise MetaD2AError("no benchmark tasks: set datasets.table, meta_test, lodo and/or split"
                           + (f" ({'; '.join(notes)})" if notes else ""))
    seen: dict[str, str] = {}
    for t in tasks:
        if seen.setdefault(t.name, t.dataset) != t.dataset:
            raise MetaD2AError(f"task {t.name} is in both {seen[t.name]} and {t.dataset}: benchmark it in one of "
                               "them (datasets.lodo or datasets.split)")
    return tasks, notes


def selected_methods(cfg: DictConfig) -> dict[str, DictConfig]:
    """The method configs to run: all of ``methods``, or those named in ``only`` (in that order)."""
    names = list(cfg.only) if cfg.only is not None else list(cfg.methods)
    unknown = [n for n in names if n not in cfg.methods]
    if unknown or not names:
        raise MetaD2AError(f"unknown methods {unknown}: choose from {list(cfg.methods)} (only=[a,b])")
    return {n: cfg.methods[n] for n in names}


def _command(cfg: DictConfig) -> str:
    try:
        from hydra.core.hydra_config import HydraConfig

        hc = HydraConfig.get()
        args = ([f"--config-name {hc.job.config_name}"] if hc.job.config_name != "default" else [])
        return " ".join(["python -m metad2a.bench", *args, *map(shlex.quote, hc.overrides.task)])
    except ValueError:  # no Hydra runtime: a library call
        return "metad2a.bench.app.run(cfg)"


def ground_truth_lines(tasks: list[BenchTask], truth: GroundTruth) -> list[str]:
    """One line per kind of truth in this run: each table, then the trained recipes and their caches."""
    lines = []
    for t in tasks:
        if t.table is not None:
            template = TABLE_TRUTH if t.table.complete else PARTIAL_TRUTH
            lines.append(template.format(name=t.truth, about=t.table.about, n=len(t.table.archs),
                                         best=float(t.table.accs.max()), m=len(t.archs)))
    trained = [t for t in tasks if t.table is None]
    if trained:
        stores = dict.fromkeys(str(truth.store_path(t.role, t.recipe)) for t in trained)
        lines.append(TRAINED_TRUTH.format(truths=", ".join(f"`{n}`" for n in dict.fromkeys(t.truth for t in trained)),
                                          cache=", ".join(stores)))
    return lines


def protocol(cfg: DictConfig, result: BenchResult, methods: dict[str, Any], truth: GroundTruth,
             group: str, date: str, skipped: list[str]) -> dict:
    """Everything needed to reproduce and trust the numbers."""
    from metad2a.models.checkpoint import code_version

    resolved = OmegaConf.to_container(cfg, resolve=True)
    paths = [v for n in methods for v in resolved["methods"][n].values() if isinstance(v, str)]
    paths += [v for v in resolved["datasets"].values() if isinstance(v, str)]
    paths += [str(Path(t.checkpoint_dir) / f) for t in result.tasks if t.checkpoint_dir for f in LODO_FILES]
    lines = ground_truth_lines(result.tasks, truth)
    return {
        "date": date, "machine": machine(), "command": _command(cfg), "code_version": code_version(),
        "wandb_group": group, "seeds": list(cfg.seeds), "timing_repeats": int(cfg.timing_repeats),
        "methods": {n: {"target": resolved["methods"][n]["_target_"], "stochastic": bool(m.stochastic)}
                    for n, m in methods.items()},
        "tasks": [{"name": t.name, "dataset": t.dataset, "truth": t.truth, "role": t.role, "split": t.spec.split,
                   "source": t.spec.source, "num_classes": t.data.num_classes, "n_cells": len(t.archs),
                   "population": len(t.population_archs), "seeds": list(t.seeds),
                   "recipe_hash": recipe_hash(t.recipe), "checkpoint_dir": t.checkpoint_dir,
                   "held_out_source": t.held_out_source} for t in result.tasks],
        "ground_truth": " | ".join(lines), "ground_truth_by_kind": lines,
        "ground_truth_runs": {"trained": truth.trained, "reused": truth.reused},
        "recipes": {recipe_hash(t.recipe): t.recipe.to_dict() for t in result.tasks},
        "skipped": list(skipped),
        "fingerprints": fingerprints(paths), "config": resolved,
    }


def write_outputs(out_dir: Path, result: BenchResult, proto: dict, scatter_method: str | None) -> list[Path]:
    """transfer.json, transfer_scores.json, transfer.md and the PNGs, each written atomically."""
    files = [atomic_write_json(out_dir / "transfer.json", to_json(result, proto)),
             atomic_write_json(out_dir / "transfer_scores.json", scores_json(result)),
             atomic_write_text(out_dir / "transfer.md", to_markdown(result, proto)),
             plots.accuracy_vs_search(result, out_dir / "accuracy_vs_search_s.png"),
             plots.regret_by_dataset(result, out_dir / "regret_by_dataset.png")]
    scoring = [m for m in result.methods if any(result.results[t.name][m].scores for t in result.tasks)]
    method = scatter_method if scatter_method in scoring else (scoring[0] if scoring else None)
    if method:
        files.append(plots.rank_scatter(result, method, out_dir / "meta_rank_scatter.png"))
    umask = os.umask(0)
    os.umask(umask)
    for f in files:  # atomic writes create 0600 files; results are meant to be shared
        os.chmod(f, 0o666 & ~umask)
    return files


def run(cfg: DictConfig) -> dict:
    """Run the benchmark that ``cfg`` describes; returns {"out_dir", "files", "trained", "reused"}."""
    import torch

    from metad2a.collect import resolve_device

    refuse_unknown_keys(cfg, BenchConfig)  # what Hydra lets through with +key=...
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    if not cfg.seeds:
        raise MetaD2AError("seeds is empty: give at least one, e.g. seeds=[0,1,2,3,4]")
    date = utc_now()
    group = cfg.wandb_group or f"bench-{date.replace(':', '').replace('+0000', 'Z')}"
    out_dir = Path(cfg.out_dir)
    configs = selected_methods(cfg)
    tasks, skipped = load_tasks(cfg)
    for note in skipped:
        print(f"note: {note}", file=sys.stderr)
    methods = {n: instantiate(c) for n, c in configs.items()}
    resolved = OmegaConf.to_container(cfg, resolve=True)

    def logger_for(name: str):
        logger_cfg = dict(resolved["logger"]) | {"group": group, "run_name": name}
        return make_logger(logger_cfg, {"method": name, "method_config": resolved["methods"][name], "bench": resolved},
                           dir=str(out_dir))

    cache = None
    if cfg.get("result_cache"):
        cache = ResultCache(cfg.result_cache, {n: method_key(n, resolved["methods"][n], cfg.seeds, cfg.timing_repeats)
                                               for n in methods})
    with GroundTruth(cfg.ground_truth.cache_dir, device=resolve_device(cfg.ground_truth.device)) as truth:
        result = run_benchmark(tasks, methods, truth, list(cfg.seeds), int(cfg.timing_repeats), logger_for,
                               echo=print if cfg.progress else None, cache=cache)
        proto = protocol(cfg, result, methods, truth, group, date, skipped)
    proto["result_cache"] = None if cache is None else {"dir": str(cache.root), "reused": cache.hits,
                                                        "computed": cache.misses}
    files = write_outputs(out_dir, result, proto, cfg.rank_scatter_method)
    return {"out_dir": str(out_dir), "files": [str(f) for f in files], "trained": proto["ground_truth_runs"]["trained"],
            "reused": proto["ground_truth_runs"]["reused"], "results_reused": cache.hits if cache else 0}


def bench_main(cfg: DictConfig) -> int:
    """Run and print where the results went; a one-line error and exit code 1 on bad input."""
    try:
        out = run(cfg)
    except MetaD2AError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"results in {out['out_dir']}/: " + ", ".join(Path(f).name for f in out["files"])
          + f" (ground truth: {out['trained']} cells trained, {out['reused']} reused; "
            f"{out['results_reused']} method-task results reused)")
    return 0
