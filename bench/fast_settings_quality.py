"""Does the faster default lose pick quality? generate.py's defaults vs the settings before issue 17, on CIFAR-100.

Settings compared (everything else as conf/generate.yaml):
    fast   the defaults: at most data.max_images=500 images (5 per class for CIFAR-100), batches of 16
    old    data.max_images=null features.batch_size=64: 20 images per class (2,000), batches of 64
For each setting and sampling seed (``seed=``: which images are sampled, and the graph VAE's draws)
it runs generate.py's pipeline on CIFAR-100's test.npz with the trained checkpoints and scores

    top1_acc         NB201 cifar100_test accuracy (%) of the top-ranked cell
    top1_percentile  that cell's percentile among all 15,625 cells (100 = the best cell)
    spearman_ranked  Spearman of the predictor's scores vs cifar100_test over the ranked (sampled, unique) cells
    spearman_all     the same over all 15,625 cells (the predictor with this sample's dataset embedding)

and reports mean and standard deviation over seeds, so the fast-old difference can be read
against the seed spread. ``--embedding`` also measures what fewer images per class do to the
predictor's dataset embedding: the distance between the embeddings of two disjoint CIFAR-100
samples with k images per class, against the distance from CIFAR-100 to other datasets.

    python bench/fast_settings_quality.py --seeds 0 1 2 3 4 --embedding     # ~6 min on 2 cores

Writes bench/results/fast_settings_quality.json (atomic).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "fast_settings_quality.json"
SETTINGS = {"fast": [], "old": ["data.max_images=null", "features.batch_size=64"]}


def compose_config(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    from metad2a.generation.config import register_configs

    register_configs()
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        return compose("generate", overrides=overrides)


def one_run(data: Path, overrides: list[str], seed: int, all_archs: list[str], truth: np.ndarray,
            truth_of: dict[str, float]) -> dict:
    """generate.py's pipeline (app.embed_while_loading + run_generation) plus the scores above."""
    from metad2a.generation.app import embed_while_loading
    from metad2a.generation.pipeline import GenerationSettings, load_settings_images, run_generation
    from metad2a.metrics import spearman
    from metad2a.predictors.base import DatasetSample

    cfg = compose_config([f"data.path={data}", f"seed={seed}", "features.cache=false", "progress=false",
                          "top_k=100", *overrides])
    settings = GenerationSettings(
        data=str(data), images_per_class=cfg.data.images_per_class, max_images=cfg.data.max_images,
        min_per_class=cfg.data.min_per_class, image_size=cfg.data.image_size, seed=seed, top_k=cfg.top_k,
        feature_resolution=cfg.features.resolution, feature_cache=False, feature_threads=cfg.features.threads,
        progress=False)
    t0 = time.perf_counter()
    images = load_settings_images(settings)
    timings: dict[str, float] = {}
    parts, feats = embed_while_loading(cfg, settings, images, timings)
    result, _ = run_generation(settings, parts.scorer, parts.generator, parts.extractor, images=images,
                               class_features=feats)
    wall = time.perf_counter() - t0
    ranked = [c.arch for c in result.ranked]
    scores = [c.predicted_accuracy for c in result.ranked]
    top = truth_of[ranked[0]]
    all_scores = parts.scorer.score(all_archs, DatasetSample(features=feats, num_classes=images.num_classes))
    return {"seed": seed, "images_used": len(images), "unique_cells": len(ranked), "top1_arch": ranked[0],
            "top1_acc": top, "top1_percentile": round(100.0 * float((truth < top).sum()) / (len(truth) - 1), 3),
            "spearman_ranked": round(spearman(scores, [truth_of[a] for a in ranked]), 4),
            "spearman_all": round(spearman(all_scores, truth), 4), "seconds": round(wall, 2),
            "features_s": timings.get("features")}


def summarize(runs: list[dict]) -> dict:
    out = {}
    for k in ("top1_acc", "top1_percentile", "spearman_ranked", "spearman_all", "images_used"):
        v = np.array([r[k] for r in runs], dtype=float)
        out[k] = {"mean": round(float(v.mean()), 4), "std": round(float(v.std(ddof=1)) if len(v) > 1 else 0.0, 4),
                  "min": round(float(v.min()), 4), "max": round(float(v.max()), 4)}
    return out


def embedding_study(ks: list[int], seed: int) -> dict:
    """Distances between predictor dataset embeddings: disjoint CIFAR-100 samples at k per class vs other datasets."""
    import torch

    from metad2a.data import load_images
    from metad2a.features.extractor import build_extractor
    from metad2a.generation.pipeline import group_by_class
    from metad2a.metrics import spearman
    from metad2a.predictors.meta import MetaGenerator, MetaPredictorScorer
    from metad2a.shared_data import shared_data_dir
    from metad2a.space import all_archs

    torch.set_num_threads(2)
    img = shared_data_dir() / "images"
    ex = build_extractor("efficientnet_lite0", 128)
    scorer, gen = MetaPredictorScorer(), MetaGenerator()
    archs = all_archs()

    def feats(path, per_class: int, **kw) -> np.ndarray:
        s = load_images(path, size=64, max_per_class=per_class, seed=seed, progress=False, **kw)
        f = ex.extract(s.images, progress=False)
        return group_by_class(f, s.labels, s.num_classes, per_class, seed)  # (C, per_class, D)

    c100 = feats(img / "cifar100" / "test.npz", 2 * max(ks))  # two disjoint halves A | B
    half = max(ks)
    others = {"cifar10-train": feats(img / "cifar10" / "train", half),
              "tiny-imagenet-202": feats(img / "tiny-imagenet-200", 5),
              "mnist-test": feats(img / "mnist", half)}
    torch.set_num_threads(1)

    def emb(f):
        return scorer.embed(f).numpy(), gen.embed(f)[0].numpy()

    def dist(a, b):
        return float(np.linalg.norm(a - b))

    ref_p, ref_g = emb(c100[:, :half])
    ref_scores = scorer.predict(archs, torch.from_numpy(ref_p))
    scale_p, scale_g = float(np.linalg.norm(ref_p)), float(np.linalg.norm(ref_g))
    out = {"cifar100_reference": f"first {half} of {2 * half} sampled per class (sample A)",
           "embedding_norm": {"predictor": round(scale_p, 4), "generator_mu": round(scale_g, 4)}, "per_k": {},
           "to_other_datasets": {}}
    for k in ks:
        a_p, a_g = emb(c100[:, :k])
        b_p, b_g = emb(c100[:, half : half + k])
        out["per_k"][str(k)] = {
            "predictor_dist_disjoint_samples": round(dist(a_p, b_p), 6),
            "predictor_dist_to_reference_B20": round(dist(b_p, ref_p), 6) if k <= half else None,
            "generator_mu_dist_disjoint_samples": round(dist(a_g, b_g), 6),
            "spearman_all_cells_vs_reference": round(spearman(scorer.predict(archs, torch.from_numpy(b_p)),
                                                              ref_scores), 4),
        }
    for name, f in others.items():
        o_p, o_g = emb(f)
        out["to_other_datasets"][name] = {
            "classes": int(f.shape[0]), "per_class": int(f.shape[1]),
            "predictor_dist": round(dist(o_p, ref_p), 6), "generator_mu_dist": round(dist(o_g, ref_g), 6),
            "spearman_all_cells_vs_cifar100": round(spearman(scorer.predict(archs, torch.from_numpy(o_p)),
                                                             ref_scores), 4)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    ap.add_argument("--embedding", action="store_true", help="also run the embedding-distance study")
    ap.add_argument("--ks", type=int, nargs="+", default=[20, 10, 5, 3, 2, 1])
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)

    import warnings

    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)
    import torch

    from metad2a.meta_data import export_meta_data_dir
    from metad2a.models.checkpoint import default_checkpoint_dir
    from metad2a.nb201_tables import test_accuracy
    from metad2a.shared_data import shared_data_dir
    from metad2a.space import all_archs

    export_meta_data_dir()
    torch.set_num_threads(1)
    table = test_accuracy()
    archs = all_archs()
    truth = np.array([table[a]["cifar100_test"] for a in archs])
    truth_of = {a: table[a]["cifar100_test"] for a in archs}
    data = shared_data_dir() / "images" / "cifar100" / "test.npz"
    doc = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
           "command": shlex.join(["python", "bench/fast_settings_quality.py", *(argv or sys.argv[1:])]),
           "checkpoint_dir": str(default_checkpoint_dir()), "dataset": str(data),
           "truth": "NB201 cifar100_test (200-epoch test accuracy, mean over seeds), all 15,625 cells",
           "oracle_acc": float(truth.max()), "settings": {k: SETTINGS[k] for k in args.settings}, "runs": {},
           "summary": {}}
    with tempfile.TemporaryDirectory():
        for name in args.settings:
            runs = []
            for seed in args.seeds:
                runs.append(one_run(data, SETTINGS[name], seed, archs, truth, truth_of))
                r = runs[-1]
                print(f"{name} seed {seed}: top1 {r['top1_acc']:.2f}% (pct {r['top1_percentile']:.1f}), "
                      f"spearman ranked {r['spearman_ranked']:.3f} all {r['spearman_all']:.3f}, "
                      f"{r['images_used']} images, {r['seconds']:.1f} s", flush=True)
            doc["runs"][name], doc["summary"][name] = runs, summarize(runs)
    if {"fast", "old"} <= set(doc["summary"]):
        f, o = doc["summary"]["fast"], doc["summary"]["old"]
        doc["fast_minus_old"] = {k: {"diff_of_means": round(f[k]["mean"] - o[k]["mean"], 4),
                                     "seed_std_fast": f[k]["std"], "seed_std_old": o[k]["std"]}
                                 for k in ("top1_acc", "top1_percentile", "spearman_ranked", "spearman_all")}
    if args.embedding:
        doc["embedding"] = embedding_study(args.ks, seed=args.seeds[0])
    from metad2a.atomic import atomic_write_json

    atomic_write_json(args.out, doc)
    for name, s in doc["summary"].items():
        print(f"{name}: " + ", ".join(f"{k} {v['mean']:.3f} ± {v['std']:.3f}" for k, v in s.items()))
    if "embedding" in doc:
        import json

        print(json.dumps(doc["embedding"], indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
