"""Check params (exact) and FLOPs (within 1%) of every cell in the NB201 proxy table.

    python bench/check_network_costs.py   # ~6 min on 2 CPU cores
"""

import csv
import sys
import time

from metad2a.shared_data import shared_file
from metad2a.space.network import build_model, count_flops, count_params


def main() -> int:
    with open(shared_file("nb201/nb201_zero_cost_proxies_imagenet16_120.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    t0, param_bad, worst = time.time(), 0, 0.0
    for r in rows:
        m = build_model(r["arch"], 120)
        param_bad += count_params(m) != round(float(r["params"]) * 1e6)
        worst = max(worst, abs(count_flops(m, (3, 16, 16)) / 1e6 - float(r["flops"])) / float(r["flops"]))
    print(f"cells={len(rows)} params_mismatches={param_bad} worst_flops_rel_err={worst:.5%} "
          f"seconds={time.time() - t0:.0f}")
    return int(param_bad > 0 or worst >= 0.01)


if __name__ == "__main__":
    sys.exit(main())
