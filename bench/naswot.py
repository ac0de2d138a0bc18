"""Validate NASWOT: Kendall tau vs NB201 CIFAR-100 test accuracy, scored on CIFAR-10 images.

    nice python bench/naswot.py --cells 1000 --threads 1   # ~1.5 CPU-s per cell; resumable

Cells are drawn uniformly (seeded) from all 15,625; one seeded batch of CIFAR-10 train images
(NB201 normalisation, 32x32) is shared by all. Scores are cached in bench/results/naswot_scores.json
after every few cells, so an interrupted run resumes where it stopped. The summary goes under
the "naswot" key of bench/results/seed_methods.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from metad2a.metrics import kendall_tau
from metad2a.nb201_tables import test_accuracy
from metad2a.predictors.base import DatasetSample
from metad2a.predictors.naswot import NASWOTScorer
from metad2a.shared_data import shared_data_dir, shared_file
from metad2a.space import all_archs
from results_io import RESULTS as SEED_METHODS, file_sha256, update_results  # bench/results_io.py

RESULTS = Path(__file__).resolve().parent / "results"
# NB201's CIFAR normalisation (per-channel mean and std of the training pixels).
CIFAR_MEAN = (125.3 / 255, 123.0 / 255, 113.9 / 255)
CIFAR_STD = (63.0 / 255, 62.1 / 255, 66.7 / 255)


def load_cifar10_batch(n: int, seed: int) -> tuple[torch.Tensor, str]:
    """n seeded CIFAR-10 train images: (n, 3, 32, 32) normalised, and a sha256 of the files read."""
    root = shared_data_dir() / "images" / "cifar10" / "train"
    files = sorted(root.glob("*/*.jpg"))
    if len(files) < n:
        raise SystemExit(f"need {n} images under {root}, found {len(files)}: check METAD2A_SHARED_DATA")
    chosen = [files[i] for i in sorted(np.random.default_rng(seed).choice(len(files), n, replace=False))]
    digest = hashlib.sha256()
    arrays = []
    for f in chosen:
        digest.update(f.read_bytes())
        arrays.append(np.asarray(Image.open(f).convert("RGB").resize((32, 32)), dtype=np.float32) / 255.0)
    x = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
    x = (x - torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)) / torch.tensor(CIFAR_STD).view(1, 3, 1, 1)
    return x.contiguous(), digest.hexdigest()


def atomic_json(path: Path, obj: dict) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=1) + "\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=1000, help="cells drawn uniformly from the 15,625")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--seed", type=int, default=0, help="seeds the cell draw, the image batch and the weights")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--cache", type=Path, default=RESULTS / "naswot_scores.json")
    p.add_argument("--no-write", action="store_true", help="do not touch seed_methods.json (timing runs)")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    images, images_sha = load_cifar10_batch(args.batch, args.seed)
    scorer = NASWOTScorer(batch_size=args.batch, seed=args.seed)
    dataset = DatasetSample(name="cifar10", num_classes=10, images=images)
    pool = all_archs()
    cells = [pool[i] for i in np.random.default_rng(args.seed).choice(len(pool), args.cells, replace=False)]

    # The cache is only reused for the same images, batch, seed and network.
    config = {"batch": args.batch, "seed": args.seed, "C": scorer.C, "N": scorer.N, "images_sha256": images_sha}
    cache = json.loads(args.cache.read_text()) if args.cache.exists() else {}
    scores: dict[str, float] = cache.get("scores", {}) if cache.get("config") == config else {}
    seconds: dict[str, float] = cache.get("seconds", {}) if cache.get("config") == config else {}
    cpu: dict[str, float] = cache.get("cpu_seconds", {}) if cache.get("config") == config else {}
    todo = [a for a in cells if a not in scores]
    print(f"{len(cells) - len(todo)} of {len(cells)} cells cached; scoring {len(todo)} on {args.threads} thread(s)")
    for i, arch in enumerate(todo, 1):
        t0, c0 = time.perf_counter(), time.process_time()
        scores[arch] = float(scorer.score([arch], dataset)[0])
        # Wall time is inflated when other jobs share the cores; CPU time is not.
        seconds[arch], cpu[arch] = time.perf_counter() - t0, time.process_time() - c0
        if i % 20 == 0 or i == len(todo):
            args.cache.parent.mkdir(parents=True, exist_ok=True)
            atomic_json(args.cache, {"config": config, "scores": scores, "seconds": seconds, "cpu_seconds": cpu})
            print(f"  {i}/{len(todo)}  {np.mean([seconds[a] for a in todo[:i]]):.2f} s/cell", flush=True)

    s = np.array([scores[a] for a in cells])
    singular = int(np.sum(~np.isfinite(s)))
    s[~np.isfinite(s)] = np.min(s[np.isfinite(s)]) - 1.0  # singular kernels tie for last place
    acc = test_accuracy()
    y = np.array([acc[a]["cifar100_test"] for a in cells])
    tau = kendall_tau(s, y)
    sec = float(np.mean([seconds[a] for a in cells]))
    cpu_sec = float(np.mean([cpu.get(a, np.nan) for a in cells]))
    print("\n| method | cells | batch | kendall tau (CIFAR-100 test) | wall s/cell | CPU s/cell | singular K |")
    print("|---|---|---|---|---|---|---|")
    print(f"| NASWOT on CIFAR-10 | {len(cells)} | {args.batch} | {tau:.4f} | {sec:.2f} | {cpu_sec:.2f} | {singular} |")
    if not args.no_write:
        update_results(SEED_METHODS, "naswot", {
            "kendall_cifar100": round(tau, 4), "cells": len(cells), "seconds_per_cell": round(sec, 3),
            "cpu_seconds_per_cell": round(cpu_sec, 3),
            "batch": args.batch, "seed": args.seed, "torch_threads": args.threads, "C": scorer.C, "N": scorer.N,
            "images": f"cifar10/train, {args.batch} seeded images, NB201 mean/std, 32x32",
            "images_sha256": images_sha, "singular_kernels": singular, "target": 0.55,
            "nb201_table_sha256": file_sha256(shared_file("nb201/nb201_test_accuracy.csv")),
            "command": " ".join(["python bench/naswot.py", *(argv if argv is not None else sys.argv[1:])]),
        })
    return 0 if tau >= 0.55 else 1


if __name__ == "__main__":
    sys.exit(main())
