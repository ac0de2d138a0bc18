"""Validate GRAF: Kendall tau of a random forest on GRAF features, NB201 test accuracy.

    nice python bench/graf.py              # ~25 min on the shared 2-core machine
    nice python bench/graf.py --splits 2   # a quick look

CIFAR-100: train on n in {32, 128, 1024} cells drawn from all 15,625, test on the rest, mean over
seeded splits. ImageNet16-120: the same within the 9,445 cells of the shared zero-cost proxy table,
for GRAF, the 13 proxies, and both together. The forest is GRAFScorer's (200 trees). The summary
goes under the "graf" key of bench/results/seed_methods.json.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from scipy.stats import kendalltau
from sklearn.base import clone

from metad2a.metrics import kendall_tau
from metad2a.nb201_tables import test_accuracy, zero_cost_proxies
from metad2a.predictors.graf import GRAFScorer, graf_matrix
from metad2a.space.graf import NUM_FEATURES
from metad2a.shared_data import shared_file
from results_io import RESULTS as SEED_METHODS, file_sha256, update_results  # bench/results_io.py

TRAIN_SIZES = (32, 128, 1024)


def fast_kendall(a: np.ndarray, b: np.ndarray) -> float:
    """Kendall tau-b in O(n log n); metrics.kendall_tau is O(n^2), too slow for 30+ splits of ~15k cells."""
    return float(kendalltau(a, b).statistic)


def split_taus(x: np.ndarray, y: np.ndarray, n_train: int, splits: int, n_estimators: int) -> list[float]:
    """Kendall tau on the held-out cells for each seeded split. x: (M, D), y: (M,)."""
    taus = []
    for seed in range(splits):
        perm = np.random.default_rng(seed).permutation(len(y))
        train, test = perm[:n_train], perm[n_train:]
        forest = clone(GRAFScorer(n_estimators=n_estimators, seed=seed).forest).fit(x[train], y[train])
        pred = forest.predict(x[test])
        if seed == 0:  # the fast tau must agree with the project's metric
            sub = np.random.default_rng(0).choice(len(test), 2000, replace=False)
            assert abs(fast_kendall(pred[sub], y[test][sub]) - kendall_tau(pred[sub], y[test][sub])) < 1e-9
        taus.append(fast_kendall(pred, y[test]))
    return taus


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--splits", type=int, default=10)
    p.add_argument("--trees", type=int, default=200)
    p.add_argument("--no-write", action="store_true", help="do not touch seed_methods.json")
    args = p.parse_args(argv)

    acc = test_accuracy()
    zc = zero_cost_proxies()
    proxies = sorted(next(iter(zc.values())).keys() - {"index"})
    archs = sorted(acc)
    zc_archs = sorted(zc)
    t0 = time.perf_counter()
    x_all = graf_matrix(archs)
    print(f"GRAF features: {x_all.shape} in {time.perf_counter() - t0:.1f} s")
    assert x_all.shape[1] == NUM_FEATURES

    rows: list[tuple[str, str, int, list[float]]] = []
    y100 = np.array([acc[a]["cifar100_test"] for a in archs])
    for n in TRAIN_SIZES:
        rows.append(("cifar100_test", "GRAF", n, split_taus(x_all, y100, n, args.splits, args.trees)))
        print(f"  cifar100 n={n}: {np.mean(rows[-1][3]):.4f}", flush=True)

    # ImageNet16-120 within the proxy table's cells; flops and params are among the 13 proxies.
    pos = {a: i for i, a in enumerate(archs)}
    x_graf = x_all[[pos[a] for a in zc_archs]]
    x_zc = graf_matrix(zc_archs, zc_proxies=proxies)[:, NUM_FEATURES:]
    y16 = np.array([acc[a]["imagenet16_120_test"] for a in zc_archs])
    variants = {"GRAF": x_graf, "ZC": x_zc, "GRAF+ZC": np.concatenate([x_graf, x_zc], axis=1)}
    for name, x in variants.items():
        for n in (TRAIN_SIZES if name == "GRAF+ZC" else (1024,)):
            rows.append(("imagenet16_120_test", name, n, split_taus(x, y16, n, args.splits, args.trees)))
            print(f"  img16 {name} n={n}: {np.mean(rows[-1][3]):.4f}", flush=True)

    print(f"\n| target | features | train cells | Kendall tau (mean ± std over {args.splits} splits) |")
    print("|---|---|---|---|")
    for target, name, n, taus in rows:
        print(f"| {target} | {name} | {n} | {np.mean(taus):.4f} ± {np.std(taus):.4f} |")

    short = {("cifar100_test", "GRAF"): "cifar100", ("imagenet16_120_test", "GRAF"): "img16_graf",
             ("imagenet16_120_test", "ZC"): "img16_zc", ("imagenet16_120_test", "GRAF+ZC"): "img16_graf_plus_zc"}
    result: dict = {f"kendall_{short[t, f]}_n{n}": round(float(np.mean(taus)), 4) for t, f, n, taus in rows}
    result.update({
        "splits": args.splits, "n_estimators": args.trees, "features": NUM_FEATURES, "zc_proxies": proxies,
        "test": "cells not used for training, out of the 15,625 (CIFAR-100) "
                "or the 9,445 proxy-table cells (ImageNet16-120)",
        "kendall_std": {f"{short[t, f]}_n{n}": round(float(np.std(taus)), 4) for t, f, n, taus in rows},
        "target_cifar100_n1024": 0.80,
        "nb201_table_sha256": file_sha256(shared_file("nb201/nb201_test_accuracy.csv")),
        "zc_table_sha256": file_sha256(shared_file("nb201/nb201_zero_cost_proxies_imagenet16_120.csv")),
        "command": " ".join(["python bench/graf.py", *(argv if argv is not None else sys.argv[1:])]),
    })
    if not args.no_write:
        update_results(SEED_METHODS, "graf", result)
    return 0 if result["kendall_cifar100_n1024"] >= 0.80 else 1


if __name__ == "__main__":
    sys.exit(main())
