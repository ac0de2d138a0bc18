"""ANASOD search vs random search over cells, with the shared CIFAR-100 test column as oracle.

    python bench/anasod.py [--seeds 100]   # ~1 min on 2 CPU cores

Prints the mean (and standard error) best CIFAR-100 test accuracy found after 10, 30 and
100 queried cells and writes key "anasod" of bench/results/seed_methods.json. The headline
"best_cifar100_at_100_queries" is ANASOD random search, the like-for-like comparison with
"random_best_cifar100_at_100_queries"; local search is reported beside it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_io import RESULTS, file_sha256, update_results  # noqa: E402

from metad2a.nb201_tables import test_accuracy  # noqa: E402
from metad2a.search import anasod_local_search, anasod_random_search, random_search_cells  # noqa: E402
from metad2a.shared_data import shared_file  # noqa: E402

BUDGETS = (10, 30, 100)
METHODS = {"anasod_random": anasod_random_search, "anasod_local": anasod_local_search,
           "random_cells": random_search_cells}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=100, help="independent runs per method (>= 50)")
    args = ap.parse_args()

    table = test_accuracy()
    oracle_best = max(r["cifar100_test"] for r in table.values())

    def acc(arch: str) -> float:
        return table[arch]["cifar100_test"]

    t0 = time.time()
    # best[method]: (seeds, max budget) running best accuracy
    best = {m: np.stack([fn(acc, max(BUDGETS), seed=s).best_so_far() for s in range(args.seeds)])
            for m, fn in METHODS.items()}

    print(f"best CIFAR-100 test accuracy found, mean ± s.e. over {args.seeds} seeds (oracle {oracle_best:.2f})")
    print(f"{'method':<16}" + "".join(f"{f'{b} queries':>18}" for b in BUDGETS))
    stats = {}
    for m, b in best.items():
        cols = b[:, [n - 1 for n in BUDGETS]]
        mean, se = cols.mean(0), cols.std(0, ddof=1) / np.sqrt(len(cols))
        stats[m] = mean
        print(f"{m:<16}" + "".join(f"{mu:>11.2f} ± {s:.2f}" for mu, s in zip(mean, se)))
    print(f"seconds={time.time() - t0:.1f}")

    value = {"headline_method": "anasod_random_search", "seeds": args.seeds, "oracle_cifar100": oracle_best,
             "data_sha256": file_sha256(shared_file("nb201/nb201_test_accuracy.csv"))}
    prefix = {"anasod_random": "", "anasod_local": "local_", "random_cells": "random_"}
    for m, means in stats.items():
        for n, mu in zip(BUDGETS, means):
            value[f"{prefix[m]}best_cifar100_at_{n}_queries"] = round(float(mu), 3)
    update_results(RESULTS, "anasod", value)
    print(f"wrote key 'anasod' to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
