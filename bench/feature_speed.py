"""Frozen-feature extractors on this CPU: images/second and class separation per input resolution.

For each available extractor and resolution it measures
  * throughput: best images/s over ``--repeats`` interleaved passes on ``--speed-images``
    Tiny-ImageNet images (64x64, resized to the resolution), per thread count in ``--threads``;
    ``extract_img_per_s`` is the rate of the accuracy pass below (fastest thread count);
  * nearest-centroid accuracy: a ``--classes``-way Tiny-ImageNet task, centroids from
    ``--train-per-class`` train images, accuracy on ``--test-per-class`` val images (cosine);
  * for EfficientNet-Lite0, ImageNet top-1/top-5 of its own 1000-class head on the same val images
    (Tiny-ImageNet classes are ImageNet classes), a check that the weights are really pretrained.

    nice python bench/feature_speed.py            # ~6 min on 2 loaded CPU cores
    nice python bench/feature_speed.py --resolutions 64 128 --threads 1

Writes bench/results/feature_speed.json (config, data fingerprint, load average, all numbers).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from metad2a.data import load_tiny_imagenet, tiny_imagenet_classes, tiny_imagenet_words
from metad2a.features import DEFAULT_RESOLUTION, available_extractors, build_extractor, load_efficientnet_lite0

RESULTS = Path(__file__).resolve().parent / "results" / "feature_speed.json"


def nearest_centroid_accuracy(train_f: np.ndarray, train_y: np.ndarray, test_f: np.ndarray, test_y: np.ndarray) -> float:
    """Cosine nearest-centroid accuracy. train_f: (N, D), test_f: (M, D); labels 0..C-1."""
    def unit(a: np.ndarray) -> np.ndarray:
        return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
    tr, te = unit(train_f), unit(test_f)
    centroids = unit(np.stack([tr[train_y == c].mean(0) for c in range(int(train_y.max()) + 1)]))
    return float(((te @ centroids.T).argmax(1) == test_y).mean())


def imagenet_targets(wnids: list[str]) -> np.ndarray:
    """ImageNet-1k class index of each Tiny-ImageNet wnid, matched by the class name in words.txt."""
    from torchvision.models._meta import _IMAGENET_CATEGORIES  # the 1000 names, in class-index order

    index = {name: i for i, name in enumerate(_IMAGENET_CATEGORIES)}
    words = tiny_imagenet_words()
    return np.array([next(index[n.strip()] for n in words[w].split(",") if n.strip() in index) for w in wnids])


def measure_speed(extractors: dict, images: np.ndarray, threads: list[int], repeats: int) -> dict:
    """Best images/s per (key, threads) over ``repeats`` rounds.

    The rounds visit every extractor in turn, so a burst of load from other processes on shared
    cores slows all settings alike; best-of-N keeps the least disturbed pass.
    """
    best: dict = {}
    for key, ex in extractors.items():
        ex.extract(images[: ex.batch_size], progress=False)  # warm-up: allocator, kernels
    for _ in range(repeats):
        for key, ex in extractors.items():
            for th in threads:
                ex.num_threads = th
                t = time.perf_counter()
                ex.extract(images, progress=False)
                rate = len(images) / (time.perf_counter() - t)
                best[key, th] = max(best.get((key, th), 0.0), rate)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--extractors", nargs="*", default=None, help="default: all whose weights are local")
    ap.add_argument("--resolutions", nargs="*", type=int, default=[64, 96, 112, 128, 160, 224])
    ap.add_argument("--threads", nargs="*", type=int, default=[1, 2])
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--train-per-class", type=int, default=50)
    ap.add_argument("--test-per-class", type=int, default=50)
    ap.add_argument("--speed-images", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    load_start = os.getloadavg()

    wnids = sorted(np.random.default_rng(args.seed).choice(tiny_imagenet_classes(), args.classes, replace=False).tolist())
    train = load_tiny_imagenet(split="train", classes=wnids, max_per_class=args.train_per_class, seed=args.seed, progress=False)
    test = load_tiny_imagenet(split="val", classes=wnids, max_per_class=args.test_per_class, seed=args.seed, progress=False)
    speed_images = train.images[np.random.default_rng(args.seed).permutation(len(train))[: args.speed_images]]
    head = load_efficientnet_lite0().classifier
    in1k = torch.from_numpy(imagenet_targets(wnids))[torch.from_numpy(test.labels)]

    extractors = {(name, res): build_extractor(name, res)
                  for name in (args.extractors or available_extractors()) for res in args.resolutions}
    speed = measure_speed(extractors, speed_images, args.threads, args.repeats)
    rows = []
    for (name, res), ex in extractors.items():
        row = {"extractor": name, "dim": ex.dim, "resolution": res}
        for th in args.threads:
            row[f"img_per_s_{th}t"] = round(speed[(name, res), th], 1)
        # Extract with the fastest thread count: on shared, oversubscribed cores fewer threads can win.
        ex.num_threads = max(args.threads, key=lambda th: row[f"img_per_s_{th}t"])
        t = time.perf_counter()
        ftr, fte = ex.extract(train.images, progress=False), ex.extract(test.images, progress=False)
        row["extract_img_per_s"] = round((len(train) + len(test)) / (time.perf_counter() - t), 1)
        row["nc_acc"] = round(nearest_centroid_accuracy(ftr, train.labels, fte, test.labels), 4)
        if name == "efficientnet_lite0":
            with torch.inference_mode():
                top5 = head(torch.from_numpy(fte)).topk(5, dim=1).indices
            row["in1k_top1"] = round(float((top5[:, 0] == in1k).float().mean()), 4)
            row["in1k_top5"] = round(float((top5 == in1k[:, None]).any(1).float().mean()), 4)
        rows.append(row)
        print(json.dumps(row), flush=True)

    cols = list(rows[0])
    print("\n" + "  ".join(f"{c:>18}" for c in cols))
    for r in rows:
        print("  ".join(f"{str(r.get(c, '')):>18}" for c in cols))
    result = {
        "config": vars(args) | {"out": str(args.out)},
        "classes": wnids,
        "data_fingerprint": {"train": train.fingerprint(), "test": test.fingerprint()},
        "machine": {"cpu_count": os.cpu_count(), "loadavg_at_start": load_start, "loadavg_at_end": os.getloadavg(),
                    "platform": platform.platform(), "processor": platform.processor(), "torch": torch.__version__},
        "library_default_resolution": DEFAULT_RESOLUTION,
        "chance_nc_acc": 1 / args.classes,
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
