"""Leave-one-domain-out: does dataset conditioning transfer to a kind of image never trained on?

    python bench/lodo.py                       # every domain: retrain without it, score its tasks
    python bench/lodo.py --domains kannada --epochs 20 --generator-epochs 5
    python bench/lodo.py --seeds 0 1           # two training seeds per domain (mean and spread)
    python bench/lodo.py --report-only         # re-tabulate the saved checkpoints

For each of the five domains of database v2 (font glyphs, Kannada digits, hand signs, cartoon
characters, brain MRI) in turn:

1. retrain the predictor, its dataset-agnostic twin and the generator with ``train.py`` on the
   default data minus that domain (``data.exclude_sources=[<domain>]``; a smaller config than the
   default, set by the flags), training on the train and test tasks of the remaining domains
   (``data.train_on=[train,test]``: their test tasks are not scored here) and selecting on
   their valid tasks;
2. score every task of the held-out domain (all its splits: none was seen), each against its own
   truth-recipe labels, within task:
   - ``meta``: the dataset-conditioned predictor, asked for the truth recipe (the labels' own);
   - ``agnostic``: its twin trained on exactly the same records;
   - ``in16_lookup``: NB201's ImageNet16-120 accuracy of each cell (no training, no data);
   - ``random``: 0 by definition (not computed).

Outputs ``bench/results/lodo.json`` and ``lodo.md``: per domain and averaged over the domains,
the mean within-task Kendall tau and Spearman, and the conditioned-minus-agnostic difference.
With ``--seeds``, each domain is retrained once per seed, and its numbers are the mean over the
seeds, with the seed-to-seed spread of meta − agnostic.
Checkpoints go to ``--out`` (default ``bench/results/lodo/<domain>/`` for the first seed and
``<out>/seed<s>/<domain>/`` for the others, each a valid ``datasets.lodo_dir`` of the benchmark;
not committed: 13 MB each).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from metad2a.atomic import atomic_write_text

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
DOMAINS = ("notmnist", "kannada", "sign-digits", "simpsons", "brain-mri")


def retrain(domain: str, out: Path, epochs: int, generator_epochs: int, extra: list[str], seed: int = 0) -> float:
    """Run train.py without ``domain`` into ``out``; returns wall seconds."""
    cmd = [sys.executable, "train.py", "logger=none", "trainer.resume=false", f"checkpoint_dir={out}", f"seed={seed}",
           f"data.exclude_sources=[{domain}]", "data.train_on=[train,test]", f"trainer.epochs={epochs}",
           f"trainer.generator_epochs={generator_epochs}", "evaluate.split=null", "evaluate.meta_test=false",
           "evaluate.samples=0", *extra]
    t0 = time.time()
    subprocess.run(cmd, cwd=REPO, check=True)
    return time.time() - t0


def truth_tasks(domain: str | None = None, split: str | None = None) -> list:
    """Database v2's truth-recipe tasks (meta_data/meta-train.sqlite) of one source and/or split."""
    from metad2a.meta_data import meta_data_dir
    from metad2a.training.tasks import load_database_tasks

    meta = meta_data_dir()
    return [t for t in load_database_tasks(meta / "meta-train.sqlite", meta / "features_meta-train.npz")
            if t.recipe == "truth" and domain in (None, t.source) and split in (None, t.split)]


def score_domain(domain: str, ckpt: Path) -> dict:
    """Within-task Kendall / Spearman of each scorer over the held-out domain's tasks."""
    return score_tasks(truth_tasks(domain), ckpt)


def score_tasks(tasks: list, ckpt: Path) -> dict:
    """Within-task Kendall / Spearman of meta, agnostic and the ImageNet16-120 lookup over ``tasks``."""
    import torch

    from metad2a.metrics import kendall_tau, spearman
    from metad2a.models.checkpoint import load_predictor
    from metad2a.models.graph_encoder import encode_archs
    from metad2a.nb201_tables import test_accuracy

    if not tasks:
        return {"tasks": 0}
    table = test_accuracy()
    models = {k: load_predictor(ckpt / f)[0] for k, f in (("meta", "predictor.pt"), ("agnostic", "predictor_agnostic.pt"))}
    rows: dict[str, list[tuple[float, float]]] = {k: [] for k in (*models, "in16_lookup")}
    for t in tasks:
        nt = encode_archs(t.archs)
        x = torch.as_tensor(t.features)[None]
        for k, m in models.items():
            with torch.no_grad():
                p = m(m.embed_dataset(x), nt, torch.zeros(len(nt), dtype=torch.long), m.recipe_ids([t.recipe], 1))
            rows[k].append((kendall_tau(p.numpy(), t.accs), spearman(p.numpy(), t.accs)))
        prior = [table[a]["imagenet16_120_test"] for a in t.archs]
        rows["in16_lookup"].append((kendall_tau(prior, t.accs), spearman(prior, t.accs)))
    out = {"tasks": len(tasks), "cells": int(np.mean([len(t.archs) for t in tasks]))}
    for k, v in rows.items():
        a = np.array(v, dtype=float)
        out[k] = {"kendall": float(np.nanmean(a[:, 0])), "kendall_se": float(np.nanstd(a[:, 0]) / np.sqrt(len(a))),
                  "spearman": float(np.nanmean(a[:, 1]))}
    out["meta_minus_agnostic"] = out["meta"]["kendall"] - out["agnostic"]["kendall"]
    return out


def checkpoint_dir(out: Path, domain: str, seed: int, first: int) -> Path:
    return out / domain if seed == first else out / f"seed{seed}" / domain


def mean_over_seeds(per_seed: list[dict]) -> dict:
    """One domain's scores averaged over training seeds; ``meta_minus_agnostic_sd``: their spread."""
    if len(per_seed) == 1:
        return {**per_seed[0], "seeds": 1}
    out = {"tasks": per_seed[0]["tasks"], "cells": per_seed[0]["cells"], "seeds": len(per_seed)}
    for k in ("meta", "agnostic", "in16_lookup"):
        out[k] = {m: float(np.mean([r[k][m] for r in per_seed])) for m in ("kendall", "kendall_se", "spearman")}
    diffs = [r["meta_minus_agnostic"] for r in per_seed]
    out["meta_minus_agnostic"] = float(np.mean(diffs))
    out["meta_minus_agnostic_sd"] = float(np.std(diffs, ddof=1))
    out["per_seed"] = per_seed
    return out


def table_md(result: dict) -> str:
    lines = ["| held-out domain | tasks | cells/task | seeds | meta Kendall | agnostic Kendall "
             "| ImageNet16-120 lookup Kendall | meta − agnostic |",
             "|---|---|---|---|---|---|---|---|"]
    for d, r in result["domains"].items():
        if not r.get("tasks"):
            lines.append(f"| {d} | 0 | — | — | — | — | — | — |")
            continue
        sd = f" (sd {r['meta_minus_agnostic_sd']:.3f})" if "meta_minus_agnostic_sd" in r else ""
        lines.append(f"| {d} | {r['tasks']} | {r['cells']} | {r.get('seeds', 1)} "
                     f"| {r['meta']['kendall']:.3f} ± {r['meta']['kendall_se']:.3f} "
                     f"| {r['agnostic']['kendall']:.3f} ± {r['agnostic']['kendall_se']:.3f} "
                     f"| {r['in16_lookup']['kendall']:.3f} | {r['meta_minus_agnostic']:+.3f}{sd} |")
    m = result.get("mean")
    if m:
        lines.append(f"| **mean of {m['domains']} domains** | {m['tasks']} | | | **{m['meta']:.3f}** | {m['agnostic']:.3f} "
                     f"| {m['in16_lookup']:.3f} | **{m['meta_minus_agnostic']:+.3f}** |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domains", nargs="*", default=list(DOMAINS))
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--generator-epochs", type=int, default=8)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--out", type=Path, default=RESULTS / "lodo")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("overrides", nargs="*", help="more train.py overrides")
    a = ap.parse_args()
    result = {"protocol": "each domain held out in turn: retrained without it (train.py data.exclude_sources; "
                          "the other domains' train and test tasks trained on, their valid tasks select), "
                          "scored within task on all of its tasks against their truth-recipe labels "
                          "(± : standard error over the domain's tasks)",
              "command": " ".join(["python", "bench/lodo.py", *sys.argv[1:]]), "date": time.strftime("%Y-%m-%d"),
              "config": {"epochs": a.epochs, "generator_epochs": a.generator_epochs, "seeds": a.seeds,
                         "overrides": a.overrides},
              "domains": {}, "train_s": {}}
    saved = RESULTS / "lodo.json"
    if a.report_only and saved.exists():  # keep what the training run recorded
        before = json.loads(saved.read_text())
        result["trained_by"], result["train_s"] = before.get("trained_by", before["command"]), before.get("train_s", {})
    for d in a.domains:
        per_seed = []
        for seed in a.seeds:
            ckpt = checkpoint_dir(a.out, d, seed, a.seeds[0])
            if not a.report_only:
                result["train_s"][f"{d}/seed{seed}"] = round(retrain(d, ckpt, a.epochs, a.generator_epochs,
                                                                     a.overrides, seed), 1)
            if (ckpt / "predictor.pt").exists():
                r = score_domain(d, ckpt)
                if r.get("tasks"):
                    per_seed.append(r)
        result["domains"][d] = mean_over_seeds(per_seed) if per_seed else {"tasks": 0}
        print(d, json.dumps({k: v for k, v in result["domains"][d].items() if k != "per_seed"}), flush=True)
    # Reference: the shipped default (trained on every domain) on v2's test-split tasks, which it
    # never trained on; the same scorers, so the held-out-domain rows can be read against it.
    shipped = REPO / "meta_data" / "checkpoints"
    if (shipped / "predictor.pt").exists():
        result["shipped_on_test_tasks"] = score_tasks(truth_tasks(split="test"), shipped)
    scored = [r for r in result["domains"].values() if r.get("tasks")]
    if scored:
        result["mean"] = {"domains": len(scored), "tasks": sum(r["tasks"] for r in scored),
                          **{k: float(np.mean([r[k]["kendall"] for r in scored]))
                             for k in ("meta", "agnostic", "in16_lookup")},
                          "meta_minus_agnostic": float(np.mean([r["meta_minus_agnostic"] for r in scored]))}
    RESULTS.mkdir(parents=True, exist_ok=True)
    atomic_write_text(RESULTS / "lodo.json", json.dumps(result, indent=1) + "\n")
    md = table_md(result)
    ref = result.get("shipped_on_test_tasks", {})
    if ref.get("tasks"):
        md += (f"\n\nReference, the shipped default (every domain trained on) on v2's {ref['tasks']} test-split tasks: "
               f"meta {ref['meta']['kendall']:.3f} ± {ref['meta']['kendall_se']:.3f}, agnostic "
               f"{ref['agnostic']['kendall']:.3f} ± {ref['agnostic']['kendall_se']:.3f}, ImageNet16-120 lookup "
               f"{ref['in16_lookup']['kendall']:.3f} ± {ref['in16_lookup']['kendall_se']:.3f} (within-task Kendall).")
    atomic_write_text(RESULTS / "lodo.md", f"# Leave-one-domain-out\n\n{result['protocol']}.\n\n`{result.get('trained_by', result['command'])}` "
                                           f"({result['date']})\n\n{md}\n")
    print(md)


if __name__ == "__main__":
    main()
