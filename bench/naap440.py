"""NAAP-440 learning-curve predictor: the published check, then NB201's shared learning curves.

    python bench/naap440.py   # ~1-2 min on 2 CPU cores

1. NAAP-440: a 200-tree random forest on scheme features + epochs 1..9 (loss mean, loss
   median, accuracy), trained on the 400 train nets, ranks the 40 test nets (IsTest);
   monotonicity violations out of 780 pairs (published: 25; target <= 30) and Kendall tau.
   The default (naap440.csv, all features, forest seed 0) is the headline; file and feature
   variants and 10 forest seeds are printed beside it.
2. NB201: predict the epoch-200 cifar10-valid accuracy of the 200 shared cells from their
   first 20 epochs; Kendall tau on 100 held-out cells, mean over 10 seeded 100/100 splits.
3. The project's own collected runs (meta_data/meta-train.sqlite, when it exists): predict a
   run's final test accuracy from its first 10% of epochs (op counts + train loss + test
   accuracy), fitted on the runs of train-split tasks; Kendall tau within each test-split task
   (mean over tasks) and pooled over them.

Writes keys "naap440", "nb201_curves" and "own_curves" of bench/results/seed_methods.json.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_io import RESULTS, file_sha256, update_results  # noqa: E402

from metad2a.metrics import kendall_tau, monotonicity_violations  # noqa: E402
from metad2a.predictors.learning_curve import (  # noqa: E402
    LearningCurveScorer, make_forest, naap440_features, naap440_is_test, naap440_target, nb201_curve_table,
    read_csv_rows,
)
from metad2a.shared_data import shared_file  # noqa: E402

K_NAAP, K_NB201, SEEDS, SPLITS = 9, 20, 10, 10
NAAP_FILES = ("naap440/naap440.csv", "naap440/naap440v2.csv")
FEATURE_SETS = {  # name -> (stats per epoch, include scheme columns)
    "scheme+loss+acc": (("LossMean", "LossMedian", "Accuracy"), True),
    "scheme+acc": (("Accuracy",), True),
    "loss+acc (no scheme)": (("LossMean", "LossMedian", "Accuracy"), False),
}


def naap_run(rows: list[dict], stats: tuple[str, ...], scheme: bool, seed: int) -> tuple[int, float]:
    """(violations, Kendall tau) on the 40 test nets for one forest seed."""
    X, _ = naap440_features(rows, K_NAAP, stats, scheme)
    y, test = naap440_target(rows), naap440_is_test(rows)
    pred = make_forest(seed).fit(X[~test], y[~test]).predict(X[test])
    return monotonicity_violations(pred, y[test]), kendall_tau(pred, y[test])


def naap440() -> dict:
    print(f"NAAP-440, k={K_NAAP} epochs, RF 200 trees; violations / Kendall tau on the test nets")
    print(f"{'file':<14}{'features':<22}{'seed 0':>16}{f'mean of {SEEDS} seeds':>26}")
    headline: dict = {}
    variants: dict = {}
    for rel in NAAP_FILES:
        rows = read_csv_rows(shared_file(rel))
        n_test = int(naap440_is_test(rows).sum())
        for fs, (stats, scheme) in FEATURE_SETS.items():
            runs = np.array([naap_run(rows, stats, scheme, s) for s in range(SEEDS)])
            lo, hi = int(runs[:, 0].min()), int(runs[:, 0].max())
            print(f"{Path(rel).name:<14}{fs:<22}{int(runs[0, 0]):>9d} / {runs[0, 1]:.3f}"
                  f"{runs[:, 0].mean():>14.1f} / {runs[:, 1].mean():.3f} (violations {lo}-{hi})")
            variants[f"{Path(rel).name}|{fs}"] = {
                "violations_seed0": int(runs[0, 0]), "kendall_seed0": round(float(runs[0, 1]), 4),
                "violations_mean": round(float(runs[:, 0].mean()), 2), "kendall_mean": round(float(runs[:, 1].mean()), 4)}
            if rel == NAAP_FILES[0] and fs == "scheme+loss+acc":
                headline = {"violations_9_epochs": int(runs[0, 0]), "kendall_9_epochs": round(float(runs[0, 1]), 4),
                            "test_pairs": n_test * (n_test - 1) // 2, "test_nets": n_test,
                            "violations_9_epochs_mean_10_seeds": round(float(runs[:, 0].mean()), 2),
                            "violations_9_epochs_range_10_seeds": [lo, hi],
                            "kendall_9_epochs_mean_10_seeds": round(float(runs[:, 1].mean()), 4),
                            "file": Path(rel).name, "features": fs, "forest_seed": 0, "n_estimators": 200,
                            "published_violations": 25, "data_sha256": file_sha256(shared_file(rel))}
    return {**headline, "variants": variants}


def nb201_curves() -> dict:
    curves, targets = nb201_curve_table()
    archs = sorted(curves)
    taus: dict[str, list[float]] = {"valid_acc": [], "valid_acc+train_acc": [], f"epoch {K_NB201} valid acc alone": []}
    for split in range(SPLITS):
        perm = np.random.default_rng(split).permutation(len(archs))
        train, test = [archs[i] for i in perm[:100]], [archs[i] for i in perm[100:]]
        y_test = [targets[a] for a in test]
        for names in (("valid_acc",), ("valid_acc", "train_acc")):
            scorer = LearningCurveScorer(k=K_NB201, curve_names=names, seed=split)
            scorer.fit({a: curves[a] for a in train}, {a: targets[a] for a in train})
            scorer.observe({a: curves[a] for a in test})
            taus["+".join(names)].append(kendall_tau(scorer.score(test), y_test))
        # The no-model reference: rank by the last observed epoch.
        taus[f"epoch {K_NB201} valid acc alone"].append(kendall_tau([curves[a]["valid_acc"][K_NB201 - 1] for a in test],
                                                                    y_test))
    print(f"\nNB201 shared curves: epoch-200 valid acc from the first {K_NB201} epochs, "
          f"Kendall tau on 100 test cells over {SPLITS} splits")
    for name, t in taus.items():
        print(f"  {name:<28} {np.mean(t):.4f} ± {np.std(t):.4f}")
    return {"kendall_epoch200_from_20": round(float(np.mean(taus["valid_acc"])), 4),
            "kendall_epoch200_from_20_sd": round(float(np.std(taus["valid_acc"])), 4),
            "kendall_epoch200_from_20_with_train_acc": round(float(np.mean(taus["valid_acc+train_acc"])), 4),
            "kendall_epoch20_valid_acc_alone": round(float(np.mean(taus[f"epoch {K_NB201} valid acc alone"])), 4),
            "features": "op counts + valid_acc epochs 1..20", "splits": SPLITS, "train_cells": 100, "test_cells": 100,
            "data_sha256": file_sha256(shared_file("nb201/nb201_cifar10_valid_learning_curves_200.csv"))}


def own_curves(db: Path, fraction: float = 0.1) -> dict | None:
    """Final accuracy of the project's own runs from their first ``fraction`` of epochs."""
    from metad2a.database.store import Store
    from metad2a.predictors.learning_curve import final_values, first_fraction, own_curve_features

    if not db.is_file():
        print(f"\nown curves: {db} not found, skipped")
        return None
    with Store(db) as store:
        split = {t.task_id: t.split for t in store.tasks()}
        runs = list(store.records())
    n_epochs = len(runs[0]["test_acc"])
    k = first_fraction(n_epochs, fraction)
    parts = {name: [r for r in runs if split[r["task_id"]] == name] for name in ("train", "test")}
    X = {n: own_curve_features([r["arch"] for r in rs], [r["train_loss"] for r in rs], [r["test_acc"] for r in rs], k)[0]
         for n, rs in parts.items()}
    y = {n: final_values([r["test_acc"] for r in rs]) for n, rs in parts.items()}
    pred = make_forest(0).fit(X["train"], y["train"]).predict(X["test"])
    tasks = sorted({r["task_id"] for r in parts["test"]})
    within, last = [], []
    for t in tasks:
        idx = np.array([r["task_id"] == t for r in parts["test"]])
        within.append(kendall_tau(pred[idx], y["test"][idx]))
        last.append(kendall_tau(X["test"][idx, -1], y["test"][idx]))  # no model: epoch-k test acc itself
    out = {"kendall_within_task": round(float(np.nanmean(within)), 4),
           "kendall_within_task_epoch_k_acc_alone": round(float(np.nanmean(last)), 4),
           "kendall_pooled": round(float(kendall_tau(pred, y["test"])), 4),
           "epochs_observed": k, "epochs": n_epochs, "train_runs": len(parts["train"]),
           "test_runs": len(parts["test"]), "test_tasks": len(tasks), "db": db.name,
           "target": "final-epoch test accuracy of each run (seeds kept as separate runs)",
           "features": f"op counts + train_loss and test_acc of epochs 1..{k}"}
    print(f"\nown curves ({db}): final test acc from the first {k}/{n_epochs} epochs, RF 200 trees fitted on "
          f"{len(parts['train'])} train-task runs; {len(tasks)} test tasks")
    print(f"  Kendall tau within task {out['kendall_within_task']:.4f} (epoch-{k} acc alone "
          f"{out['kendall_within_task_epoch_k_acc_alone']:.4f}); pooled {out['kendall_pooled']:.4f}")
    return out


def main() -> int:
    from metad2a.meta_data import meta_data_dir

    t0 = time.time()
    update_results(RESULTS, "naap440", naap440())
    update_results(RESULTS, "nb201_curves", nb201_curves())
    own = own_curves(meta_data_dir() / "v1" / "meta-train.sqlite")  # the v1 mini runs: every epoch scored
    if own is not None:
        update_results(RESULTS, "own_curves", own)
    print(f"seconds={time.time() - t0:.0f}; wrote keys 'naap440', 'nb201_curves', 'own_curves' to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
