"""End-to-end speed of generate.py on this machine: median seconds per stage over ``--repeats`` runs.

Each run is ``metad2a.generation.app.generate(cfg)`` in-process with the default settings (the
body of ``python generate.py data=...``: checkpoint and backbone loading, image loading, feature
extraction, sampling, scoring, ranking, writing the JSON and model file), so interpreter start
and imports are excluded; they are measured once, apart, as ``import_s``. Two modes per dataset:

    cold   features.cache=false: every run decodes and embeds the images (a user's first run)
    warm   features.cache=true after one untimed run has filled the cache (a rerun on the same data)

Datasets: the CIFAR-10 test folder from the shared data (10 classes, an ImageFolder) and the
built-in scikit-learn digits example. Checkpoints: ``--checkpoint-dir``, else the trained ones in
``$METAD2A_META_DATA/checkpoints``, else tiny ones built here from synthetic tasks with the
default model sizes (untrained quality, same inference cost), marked ``"checkpoints": "tiny-synthetic"``.

    nice python bench/generate_speed.py                  # ~1.5 min on 2 loaded cores
    nice python bench/generate_speed.py --repeats 2 --threads 1 2   # also time 2 torch threads (slow: ~3 min)

Writes bench/results/generate_speed.json (medians, machine, load average, command, date).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results" / "generate_speed.json"
STAGES = ("setup", "load_images", "features", "generate", "score", "rank", "write", "total")
TARGET_S = 10.0


def tiny_synthetic_checkpoints(out: Path) -> Path:
    """One epoch of meta-training on synthetic 1280-d tasks with the default ModelConfig sizes."""
    from metad2a.models import ModelConfig
    from metad2a.training.config import TrainerConfig
    from metad2a.training.meta_train import meta_train
    from metad2a.training.synthetic import make_synthetic_tasks

    tasks = make_synthetic_tasks(num_tasks=8, feat_dim=1280, num_classes=(3, 5), samples_per_class=4,
                                 cells_per_task=8, seed=0)
    trainer = TrainerConfig(epochs=1, batch_tasks=8, unlabelled_cells=16, samples_per_class=4, resume=False)
    meta_train(tasks, ModelConfig(), trainer, out)
    return out


def find_checkpoints(arg: str | None, tmp: Path) -> tuple[Path, str]:
    from metad2a.models.checkpoint import GENERATOR_FILE, PREDICTOR_FILE, default_checkpoint_dir

    def complete(d: Path) -> bool:
        return (d / GENERATOR_FILE).is_file() and (d / PREDICTOR_FILE).is_file()

    if arg:
        d = Path(arg)
        if not complete(d):
            raise SystemExit(f"--checkpoint-dir {d} lacks {GENERATOR_FILE} or {PREDICTOR_FILE}: run `python train.py`")
        return d, "given"
    if complete(default_checkpoint_dir()):
        return default_checkpoint_dir(), "trained"
    print("no trained checkpoints found: building tiny synthetic ones (speed only, rankings meaningless)")
    return tiny_synthetic_checkpoints(tmp / "checkpoints"), "tiny-synthetic"


def datasets(names: list[str], cache: Path) -> dict[str, Path]:
    from metad2a.generation.example_data import example_folder
    from metad2a.shared_data import shared_data_dir

    out = {}
    for n in names:
        if n == "cifar10-test":
            try:
                p = shared_data_dir() / "images" / "cifar10" / "test"
            except Exception as e:  # noqa: BLE001 - report and go on with the other dataset
                print(f"skipping cifar10-test: {e}")
                continue
            if p.is_dir():
                out[n] = p
            else:
                print(f"skipping cifar10-test: {p} not found (set METAD2A_SHARED_DATA)")
        elif n == "digits":
            out[n] = example_folder(cache / "examples" / "sklearn-digits")
        else:
            raise SystemExit(f"unknown dataset {n!r}: use cifar10-test or digits")
    return out


def compose_config(overrides: list[str]):
    from hydra import compose, initialize_config_dir

    from metad2a.generation.config import register_configs

    register_configs()  # conf/generate.yaml names its schema first
    with initialize_config_dir(str(REPO / "conf"), version_base="1.3"):
        return compose("generate", overrides=overrides)


def import_seconds() -> float:
    """Wall time of a fresh interpreter importing what generate.py needs (excluded from the runs)."""
    code = ("import metad2a.generation.app, metad2a.predictors.meta, metad2a.features.extractor, "
            "metad2a.generation.train_best")
    t = time.perf_counter()
    subprocess.run([sys.executable, "-W", "ignore", "-c", code], check=True, cwd=REPO)
    return time.perf_counter() - t


def run_mode(data: Path, ckpt: Path, mode: str, threads: int, repeats: int, work: Path) -> dict:
    from metad2a.generation.app import generate

    os.environ["METAD2A_CACHE"] = str(work / f"cache-{mode}")
    overrides = [f"data.path={data}", f"generator_checkpoint={ckpt / 'generator.pt'}",
                 f"predictor.checkpoint={ckpt / 'predictor.pt'}", f"output={work / 'out' / 'generate.json'}",
                 "progress=false", f"threads={threads}", f"features.cache={'true' if mode == 'warm' else 'false'}"]
    cfg = compose_config(overrides)
    if mode == "warm":
        generate(cfg)  # fill the feature cache; not timed
    runs = [generate(cfg).result for _ in range(repeats)]
    timings = [r.timings_s for r in runs]
    return {
        "threads": threads, "mode": mode, "repeats": repeats,
        "num_classes": runs[0].dataset["num_classes"], "images_used": runs[0].dataset["images_used"],
        "data_fingerprint": runs[0].dataset["fingerprint"],
        "median_s": {s: round(float(np.median([t.get(s, 0.0) for t in timings])), 3) for s in STAGES},
        "totals_s": [t["total"] for t in timings],
    }


def print_table(rows: list[dict]) -> None:
    head = f"{'dataset':<13} {'mode':<5} {'thr':>3} " + " ".join(f"{s:>11}" for s in STAGES)
    print("\nmedian seconds per stage\n" + head + "\n" + "-" * len(head))
    for r in rows:
        print(f"{r['dataset']:<13} {r['mode']:<5} {r['threads']:>3} "
              + " ".join(f"{r['median_s'][s]:>11.3f}" for s in STAGES))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--datasets", nargs="+", default=["cifar10-test", "digits"])
    ap.add_argument("--threads", type=int, nargs="+", default=[1], help="torch threads to compare (config threads=)")
    ap.add_argument("--modes", nargs="+", default=["cold", "warm"], choices=["cold", "warm"])
    ap.add_argument("--checkpoint-dir", default=None)
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)

    import warnings

    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)
    load_start, t_start = os.getloadavg(), time.perf_counter()
    imports = import_seconds()
    with tempfile.TemporaryDirectory(prefix="generate_speed.") as tmp:
        work = Path(tmp)
        torch.set_num_threads(1)  # for building tiny checkpoints; each run sets its own threads=
        ckpt, kind = find_checkpoints(args.checkpoint_dir, work)
        data = datasets(args.datasets, work)
        if not data:
            raise SystemExit("no dataset to time: set METAD2A_SHARED_DATA or pass --datasets digits")
        rows = []
        for name, path in data.items():
            for threads in args.threads:
                for mode in args.modes:
                    row = run_mode(path, ckpt, mode, threads, args.repeats, work)
                    rows.append(row := {"dataset": name, "path": str(path), **row})
                    print(f"{name} {mode} threads={threads}: median total {row['median_s']['total']:.2f} s "
                          f"(runs {', '.join(f'{t:.2f}' for t in row['totals_s'])})", flush=True)
    print_table(rows)
    load_end = os.getloadavg()
    cold_default = [r for r in rows if r["mode"] == "cold" and r["threads"] == 1 and r["num_classes"] == 10]
    result = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpu_count": os.cpu_count(), "loadavg_at_start": list(load_start), "loadavg_at_end": list(load_end),
                    "platform": platform.platform(), "torch": torch.__version__},
        "checkpoints": kind, "checkpoint_dir": str(ckpt) if kind != "tiny-synthetic" else None,
        "settings": "conf/generate.yaml defaults (20 images/class, 100 samples, top_k 10, meta predictor), "
                    "progress=false; threads and features.cache as listed",
        "import_s": round(imports, 3), "target_s": TARGET_S,
        "meets_target_cold_10_class": bool(cold_default) and all(r["median_s"]["total"] <= TARGET_S
                                                                 for r in cold_default),
        "bench_wall_s": round(time.perf_counter() - t_start, 1),
        "rows": rows,
    }
    from metad2a.atomic import atomic_write_json

    atomic_write_json(args.out, result)
    print(f"\nimports (excluded): {imports:.2f} s; load average {load_start[0]:.2f} -> {load_end[0]:.2f} on "
          f"{os.cpu_count()} CPUs; checkpoints: {kind}\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
