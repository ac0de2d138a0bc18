"""The shipped checkpoints on the meta-test sets: CIFAR-100 against NB201's 200-epoch column, and the generator.

Meta-test datasets are never trained on and never used for selection. This is the quick
version of the benchmark's CIFAR-100 row (``python -m metad2a.bench 'datasets.meta_test=[]'``)
for the three shipped models, with no search timing and no other methods, plus the
generator's recall and specificity, which need no truth:

    python bench/check_shipped_models.py                       # meta_data/checkpoints
    python bench/check_shipped_models.py --checkpoints /tmp/ck --samples 100 --seeds 3

- CIFAR-100: every unique cell (6,466) scored by the conditioned and the agnostic predictor on
  CIFAR-100's meta-test features, beside the ImageNet16-120 lookup, and the generator's pick;
- recall: of the predictor's exhaustive top 10 for a meta-test set, how many are among 100
  generator samples (mean over CIFAR-10, MNIST, Fashion-MNIST, CIFAR-100 and the sampling seeds);
- specificity: how many of the top 10 sampled cells MNIST and CIFAR-100 share, beside how many
  of the predictor's exhaustive top 10s they share.

Writes bench/results/shipped_models_check.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np
from metad2a.atomic import atomic_write_json
from metad2a.bench.metrics import percentile_among
from metad2a.database.features_store import FeatureFile
from metad2a.database.tasks import meta_test_tasks
from metad2a.nb201_tables import test_accuracy
from metad2a.metrics import spearman
from metad2a.predictors.meta import MetaGenerator, MetaPredictorScorer
from metad2a.space import canonical_form, unique_cells

REPO = Path(__file__).resolve().parents[1]


def pick(scores: np.ndarray, archs: list[str], table: dict, every: np.ndarray) -> dict:
    """The top-scored cell's CIFAR-100 accuracy and its percentile among all 15,625 cells."""
    arch = archs[int(np.argmax(scores))]
    acc = table[arch]["cifar100_test"]
    return {"arch": arch, "cifar100_test": acc, "percentile": round(percentile_among(acc, every), 2)}


def top10(scores: np.ndarray, archs: list[str]) -> list[str]:
    return [archs[i] for i in np.argsort(-scores, kind="stable")[:10]]


def generator_checks(gen: MetaGenerator, scorer: MetaPredictorScorer, features: FeatureFile, archs: list[str],
                     samples: int, seeds: int) -> dict:
    """Recall of the predictor's exhaustive top 10 per meta-test set, and MNIST vs CIFAR-100 overlap."""
    specs = meta_test_tasks(datasets=["cifar10", "mnist", "fashion-mnist", "cifar100"])
    recall, sampled_top, exhaustive_top = {}, {}, {}
    for spec in specs:
        f = features.task_features(spec)
        embedding = scorer.embed(f)
        exhaustive_top[spec.task_id] = {canonical_form(a) for a in top10(scorer.predict(archs, embedding), archs)}
        hits = []
        for seed in range(seeds):
            cells = unique_cells(gen.sample_cells(f, samples, seed=seed))
            hits.append(len(exhaustive_top[spec.task_id] & {canonical_form(c) for c in cells}))
            if seed == 0:
                sampled_top[spec.task_id] = {canonical_form(a) for a in top10(scorer.predict(cells, embedding), cells)}
        recall[spec.task_id] = float(np.mean(hits))
    return {"recall": recall, "recall_mean": float(np.mean(list(recall.values()))),
            "shared_sampled_top10": len(sampled_top["mnist"] & sampled_top["cifar100"]),
            "shared_exhaustive_top10": len(exhaustive_top["mnist"] & exhaustive_top["cifar100"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoints", default=str(REPO / "meta_data" / "checkpoints"))
    ap.add_argument("--features", default=str(REPO / "meta_data" / "features_meta-test.npz"))
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "shipped_models_check.json"))
    args = ap.parse_args()

    table = test_accuracy()
    archs = unique_cells()
    truth = np.array([table[a]["cifar100_test"] for a in archs])
    every = np.array([v["cifar100_test"] for v in table.values()])
    feature_file = FeatureFile(args.features)
    features = feature_file.task_features(meta_test_tasks(datasets=["cifar100"])[0])
    ck = Path(args.checkpoints)

    rows = {}
    lookup = np.array([table[a]["imagenet16_120_test"] for a in archs])
    rows["imagenet16_120_lookup"] = {"spearman": spearman(lookup, truth), **pick(lookup, archs, table, every)}
    for name, file in (("meta", "predictor.pt"), ("meta_agnostic", "predictor_agnostic.pt")):
        scorer = MetaPredictorScorer(ck / file)
        scores = scorer.predict(archs, scorer.embed(features))
        rows[name] = {"spearman": spearman(scores, truth), **pick(scores, archs, table, every)}
    scorer, gen = MetaPredictorScorer(ck / "predictor.pt"), MetaGenerator(ck / "generator.pt")
    embedding = scorer.embed(features)
    for seed in range(args.seeds):
        cells = unique_cells(gen.sample_cells(features, args.samples, seed=seed))
        rows[f"generator_seed{seed}"] = {"unique": len(cells), "sampled": args.samples,
                                         **pick(scorer.predict(cells, embedding), cells, table, every)}

    generator = generator_checks(gen, scorer, feature_file, archs, args.samples, args.seeds)
    print(f"CIFAR-100 ({len(archs):,} unique cells; truth: NB201 cifar100_test, 200 epochs)")
    for name, r in rows.items():
        extra = f"Spearman {r['spearman']:.4f}" if "spearman" in r else f"{r['unique']} unique of {r['sampled']}"
        print(f"  {name:22s} pick {r['cifar100_test']:.2f}% (percentile {r['percentile']:.2f})  {extra}")
    print(f"generator recall of the predictor's top 10 in {args.samples} samples: {generator['recall']}, "
          f"mean {generator['recall_mean']:.2f} of 10")
    print(f"MNIST vs CIFAR-100: top-10 sampled share {generator['shared_sampled_top10']}, "
          f"exhaustive top-10s share {generator['shared_exhaustive_top10']}")
    atomic_write_json(args.out, {"date": dt.date.today().isoformat(), "checkpoints": str(ck),
                                 "truth": "NB201 cifar100_test", "cells": len(archs), "rows": rows,
                                 "generator": generator,
                                 "canonical_pick_meta": canonical_form(rows["meta"]["arch"])})


if __name__ == "__main__":
    main()
