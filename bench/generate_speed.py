"""Speed of ``python generate.py data=...`` as a user meets it: the whole command, cold, feature cache off.

Per dataset and settings variant, ``--repeats`` runs of a fresh interpreter

    python generate.py data=<dataset> features.cache=false output=<tmp>/generate.json [variant overrides]

each under a pseudo-terminal (``script``), so the progress bars draw as on a user's terminal.
Each run gives the whole-command wall time, the in-process ``timings_s`` from its JSON, and the
peak resident memory of the process tree (``os.wait4``). Reported as medians, beside the median
wall time of ``python -c "import torch"`` measured in the same invocation: the unit a reader can
compare machines by.

Datasets:
    cifar10     the CIFAR-10 train folder of the shared data (10 classes, JPEG files)
    cifar100    CIFAR-100 test.npz of the shared data (100 classes)
    tiny1000    1,000 classes, synthetic: Tiny-ImageNet's first 200 classes x 150 train images,
                each class cut into 5 pseudo-classes of 30 images, written once as an npz
                under --work (64x64, 368 MB of pixels; built before any timing)
Variants (overrides on top of conf/generate.yaml):
    default     the shipped settings
    old         data.max_images=null features.batch_size=64 (20 images per class for any class count,
                batches of 64, 1 thread: the settings before issue 17; the code is this checkout's)
    threads2    features.threads=2 (extraction on 2 threads)
    batch64     features.batch_size=64
``--baseline-repo DIR`` adds variant ``baseline``: DIR's own generate.py and defaults (an older checkout).

``--levers`` also measures, in-process: extraction throughput per (threads, batch size) and
``torch.inference_mode`` vs ``no_grad``; and, in a fresh interpreter, what setup is made of
(import torch, the package, PyG; loading the checkpoints; building the extractor; the params/FLOPs
reference builds).

    python bench/generate_speed.py --prepare                 # build tiny1000.npz (not timed)
    python bench/generate_speed.py --datasets cifar10 cifar100 tiny1000 --repeats 3
    python bench/generate_speed.py --datasets cifar10 --variants threads2 batch64 --levers
    python bench/generate_speed.py --datasets cifar10 cifar100 --variants --baseline-repo /tmp/metad2a-main

Checkpoints: ``--checkpoint-dir``, else ``$METAD2A_META_DATA/checkpoints``, else tiny ones built
here with the default model sizes (same inference cost, meaningless rankings; marked so).
Each invocation updates its rows in bench/results/generate_speed.json (atomic, keyed by
dataset/variant, so invocations add up) and rewrites bench/results/generate_speed.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from results_io import update_results  # noqa: E402

RESULTS = REPO / "bench" / "results" / "generate_speed.json"
TABLE = RESULTS.with_suffix(".md")
STAGES = ("load_images", "setup", "features", "generate", "score", "rank", "write", "total")
VARIANTS = {"default": [], "old": ["data.max_images=null", "features.batch_size=64"],
            "threads2": ["features.threads=2"], "batch64": ["features.batch_size=64"]}
# issue 17's targets: whole command (s), in-process total (s), peak memory (GB), per class count.
TARGETS = {10: {"whole_s": 4.0, "total_s": 2.0}, 100: {"whole_s": 10.0}, 1000: {"whole_s": 60.0, "rss_gb": 4.0}}
TINY1000 = "tiny1000.npz"


# ---------------------------------------------------------------- data and checkpoints

def build_tiny1000(out: Path, classes: int = 200, split: int = 5) -> Path:
    """The 1,000-class npz: ``classes`` Tiny-ImageNet classes x 150 train images, each cut into ``split``."""
    if out.is_file():
        return out
    from metad2a.data.decode import decode_image
    from metad2a.data.tiny_imagenet import tiny_imagenet_classes, tiny_imagenet_root

    root = tiny_imagenet_root()
    xs, ys = [], []
    for c, wnid in enumerate(tiny_imagenet_classes()[:classes]):
        files = sorted((root / "train" / wnid / "images").glob("*.JPEG"))
        per = len(files) // split
        for j, f in enumerate(files[: per * split]):
            xs.append(decode_image(f, 64))
            ys.append(c * split + j // per)
    tmp = out.with_name(f".{out.name}.tmp.npz")
    np.savez(tmp, x=np.stack(xs), y=np.asarray(ys, dtype=np.int64),
             class_names=np.asarray([f"{w}-{k}" for w in tiny_imagenet_classes()[:classes] for k in range(split)]))
    os.replace(tmp, out)
    return out


def dataset_paths(names: list[str], work: Path) -> dict[str, Path]:
    from metad2a.shared_data import shared_data_dir

    shared = shared_data_dir() / "images"
    known = {"cifar10": lambda: shared / "cifar10" / "train", "cifar100": lambda: shared / "cifar100" / "test.npz",
             "tiny1000": lambda: build_tiny1000(work / TINY1000)}
    unknown = set(names) - set(known)
    if unknown:
        raise SystemExit(f"unknown datasets {sorted(unknown)}: use {', '.join(known)}")
    return {n: known[n]() for n in names}


def tiny_synthetic_checkpoints(out: Path) -> Path:
    """One epoch of meta-training on synthetic 1280-d tasks with the default ModelConfig sizes."""
    import torch

    from metad2a.models import ModelConfig
    from metad2a.training.config import TrainerConfig
    from metad2a.training.meta_train import meta_train
    from metad2a.training.synthetic import make_synthetic_tasks

    torch.set_num_threads(1)
    tasks = make_synthetic_tasks(num_tasks=8, feat_dim=1280, num_classes=(3, 5), samples_per_class=4,
                                 cells_per_task=8, seed=0)
    trainer = TrainerConfig(epochs=1, batch_tasks=8, unlabelled_cells=16, samples_per_class=4, resume=False)
    meta_train(tasks, ModelConfig(), trainer, out)
    return out


def find_checkpoints(arg: str | None, work: Path) -> tuple[Path, str]:
    from metad2a.models.checkpoint import GENERATOR_FILE, PREDICTOR_FILE, default_checkpoint_dir

    def complete(d: Path) -> bool:
        return (d / GENERATOR_FILE).is_file() and (d / PREDICTOR_FILE).is_file()

    if arg:
        if not complete(Path(arg)):
            raise SystemExit(f"--checkpoint-dir {arg} lacks {GENERATOR_FILE} or {PREDICTOR_FILE}: run `python train.py`")
        return Path(arg), "given"
    if complete(default_checkpoint_dir()):
        return default_checkpoint_dir(), "trained"
    tiny = work / "tiny-checkpoints"
    if not complete(tiny):
        print("no trained checkpoints: building tiny synthetic ones (speed only, rankings meaningless)")
        tiny_synthetic_checkpoints(tiny)
    return tiny, "tiny-synthetic"


# ---------------------------------------------------------------- one cold command

def run_command(argv: list[str], cwd: Path, env: dict, use_pty: bool) -> tuple[float, float, int, str]:
    """(wall s, peak RSS MB of the process tree, exit code, output) of ``argv`` in a fresh process."""
    if use_pty:  # `script` gives the command a terminal: progress bars draw as for a user
        # ...of a real width: a bare pty is 0 columns wide and tqdm would draw empty bars
        argv = ["script", "-qfec", "stty cols 100 rows 40; exec " + shlex.join(argv), "/dev/null"]
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss / 1024.0, p.returncode, out.decode(errors="replace")


def torch_import_s(repeats: int) -> list[float]:
    runs = []
    for _ in range(repeats):
        wall, _, rc, out = run_command([sys.executable, "-c", "import torch"], REPO, dict(os.environ), False)
        if rc:
            raise SystemExit(f"python -c 'import torch' failed:\n{out}")
        runs.append(round(wall, 3))
    return runs


def time_generate(repo: Path, data: Path, overrides: list[str], ckpt: Path, work: Path, repeats: int,
                  use_pty: bool) -> dict:
    out_json = work / "out" / "generate.json"
    argv = [sys.executable, "generate.py", f"data={data}", "features.cache=false", f"output={out_json}",
            f"model_file={work / 'out' / 'best_model.pt'}", f"generator_checkpoint={ckpt / 'generator.pt'}",
            f"predictor.checkpoint={ckpt / 'predictor.pt'}", f"hydra.run.dir={work / 'hydra'}", *overrides]
    env = {**os.environ, "PYTHONPATH": str(repo), "METAD2A_CACHE": str(work / "cache")}
    runs = []
    for _ in range(repeats):
        out_json.unlink(missing_ok=True)
        wall, rss, rc, text = run_command(argv, repo, env, use_pty)
        if rc or not out_json.is_file():
            raise SystemExit(f"generate.py failed (exit {rc}):\n{text[-3000:]}")
        doc = json.loads(out_json.read_text())
        runs.append({"wall_s": round(wall, 3), "peak_rss_mb": round(rss, 1), "timings_s": doc["timings_s"],
                     "images_used": doc["dataset"]["images_used"], "num_classes": doc["dataset"]["num_classes"],
                     "progress_bar_seen": ("features (" in text) if use_pty else None,
                     "top_cell": doc["ranked"][0]["arch"]})
    med = lambda xs: round(float(np.median(xs)), 3)  # noqa: E731
    return {
        "command": shlex.join(["python", "generate.py", *argv[2:]]), "repo": str(repo), "repeats": repeats,
        "num_classes": runs[0]["num_classes"], "images_used": runs[0]["images_used"],
        "whole_s": med([r["wall_s"] for r in runs]),
        "in_process_s": {s: med([r["timings_s"].get(s, 0.0) for r in runs]) for s in STAGES},
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "progress_bar_seen": runs[0]["progress_bar_seen"],
        "runs": runs,
    }


def targets_for(row: dict) -> dict:
    """{target: {"target": x, "value": y, "met": bool}} for this row's class count (issue 17)."""
    t = TARGETS.get(row["num_classes"], {})
    values = {"whole_s": row["whole_s"], "total_s": row["in_process_s"]["total"],
              "rss_gb": row["peak_rss_mb"] / 1024.0}
    return {k: {"target": v, "value": round(values[k], 3), "met": values[k] <= v} for k, v in t.items()}


# ---------------------------------------------------------------- levers

SETUP_PROBE = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
t = {}
def mark(k, t0): t[k] = round(time.perf_counter() - t0, 3)
t0 = time.perf_counter(); import torch; mark("import_torch", t0)
t0 = time.perf_counter(); import hydra.utils, omegaconf; mark("import_hydra", t0)
t0 = time.perf_counter(); import metad2a.generation.app; mark("import_metad2a_app", t0)
t0 = time.perf_counter(); import metad2a.predictors.meta as m; mark("import_models", t0)
torch.set_num_threads(1)
t0 = time.perf_counter(); m.MetaPredictorScorer(sys.argv[1] + "/predictor.pt"); mark("load_predictor", t0)
t0 = time.perf_counter(); m.MetaGenerator(sys.argv[1] + "/generator.pt"); mark("load_generator", t0)
t["pyg_imported_by_loading"] = float("torch_geometric" in sys.modules)  # 0: the cell table spared it
t0 = time.perf_counter(); import torch_geometric.nn; mark("import_pyg_if_it_were", t0)
from metad2a.features.extractor import build_extractor
t0 = time.perf_counter(); build_extractor("efficientnet_lite0", 128); mark("build_extractor", t0)
from metad2a.generation.costs import reference_costs
t0 = time.perf_counter(); reference_costs(10, 16, 5, (3, 32, 32)); mark("reference_costs", t0)
print(json.dumps(t))
"""


def setup_breakdown(ckpt: Path, repeats: int) -> dict:
    """Median seconds of each setup piece in a fresh interpreter (in the order generate.py meets them)."""
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", SETUP_PROBE, str(ckpt)], cwd=REPO, capture_output=True,
                             text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        if out.returncode:
            raise SystemExit(f"setup probe failed:\n{out.stderr[-2000:]}")
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {k: round(float(np.median([r[k] for r in runs])), 3) for k in runs[0]}


def extraction_levers(data: Path, repeats: int) -> dict:
    """Images/s of the EfficientNet-Lite0 extractor at 128 px on 256 of ``data``'s images."""
    import torch

    from metad2a.data import load_images
    from metad2a.features.extractor import build_extractor

    images = load_images(data, size=64, max_per_class=26, progress=False).images[:256]
    ex = build_extractor("efficientnet_lite0", 128)
    before = torch.get_num_threads()
    rates: dict[str, float] = {}
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            for batch in (8, 16, 32, 64):
                ex.batch_size = batch
                ex.extract(images[:batch], progress=False)  # warm-up
                best = []
                for _ in range(repeats):
                    t0 = time.perf_counter()
                    ex.extract(images, progress=False)
                    best.append(len(images) / (time.perf_counter() - t0))
                rates[f"threads={threads},batch={batch}"] = round(max(best), 1)
        torch.set_num_threads(1)
        x = ex.preprocess(images[:16])
        modes = {}
        for mode, ctx in (("no_grad", torch.no_grad), ("inference_mode", torch.inference_mode)):
            best = []
            for _ in range(repeats):
                with ctx():
                    t0 = time.perf_counter()
                    ex.model(x)
                    best.append(16 / (time.perf_counter() - t0))
            modes[mode] = round(max(best), 1)
    finally:
        torch.set_num_threads(before)
    return {"images": len(images), "resolution": 128, "img_per_s_best_of": repeats, "img_per_s": rates,
            "threads=1,batch=16 by autograd mode (img/s)": modes}


# ---------------------------------------------------------------- report

def write_table(doc: dict) -> None:
    rows = [(k, v) for k, v in doc.items() if isinstance(v, dict) and "whole_s" in v]
    order = {"cifar10": 0, "cifar100": 1, "tiny1000": 2}
    rows.sort(key=lambda kv: (order.get(kv[0].split("/")[0], 9), kv[0]))
    lines = ["| dataset / settings | classes | images embedded | whole command (s) | in-process total (s) | "
             "features (s) | setup wait (s) | peak RSS (GB) | `import torch` (s) | targets |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for key, r in rows:
        met = "; ".join(f"{k} {v['value']} ≤ {v['target']} {'met' if v['met'] else 'MISSED'}"
                        for k, v in r.get("targets", {}).items()) or "—"
        lines.append(f"| {key} | {r['num_classes']} | {r['images_used']:,} | {r['whole_s']:.2f} | "
                     f"{r['in_process_s']['total']:.2f} | {r['in_process_s']['features']:.2f} | "
                     f"{r['in_process_s']['setup']:.2f} | {r['peak_rss_mb'] / 1024:.2f} | "
                     f"{r['torch_import_s']:.2f} | {met} |")
    note = ("Medians of the runs in each row; whole command = a fresh `python generate.py data=... "
            "features.cache=false` under a pseudo-terminal; `import torch` = the median wall time of "
            "`python -c \"import torch\"` in the same invocation. Written by bench/generate_speed.py.")
    from metad2a.atomic import atomic_write_text

    atomic_write_text(TABLE, "\n".join(lines) + "\n\n" + note + "\n")
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["cifar10", "cifar100", "tiny1000"])
    ap.add_argument("--variants", nargs="*", default=["default"], choices=sorted(VARIANTS))
    ap.add_argument("--baseline-repo", default=None, help="also time this checkout's generate.py with its defaults")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--levers", action="store_true", help="also measure extraction threads/batch and setup pieces")
    ap.add_argument("--prepare", action="store_true", help="only build the datasets and checkpoints (untimed)")
    ap.add_argument("--checkpoint-dir", default=None)
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "metad2a-generate-speed"))
    ap.add_argument("--no-pty", action="store_true", help="run without a terminal (no progress bars drawn)")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv)

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    ckpt, kind = find_checkpoints(args.checkpoint_dir, work)
    data = dataset_paths(args.datasets, work)
    if args.prepare:
        print(f"prepared {', '.join(f'{k}={v}' for k, v in data.items())}; checkpoints {ckpt} ({kind})")
        return 0
    use_pty = not args.no_pty and subprocess.run(["which", "script"], capture_output=True).returncode == 0
    load_start = os.getloadavg()
    torch_runs = torch_import_s(max(3, args.repeats))
    torch_s = round(float(np.median(torch_runs)), 3)
    print(f"import torch: median {torch_s:.2f} s (runs {torch_runs})", flush=True)
    stamp = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
             "bench_command": shlex.join(["python", "bench/generate_speed.py", *(argv or sys.argv[1:])]),
             "checkpoints": kind, "checkpoint_dir": str(ckpt) if kind != "tiny-synthetic" else None,
             "torch_import_s": torch_s, "torch_import_runs_s": torch_runs,
             "machine": {"cpu_count": os.cpu_count(), "cpu": cpu_name(), "platform": platform.platform(),
                         "python": platform.python_version(), "loadavg_at_start": list(load_start)}}
    jobs = [(v, REPO, VARIANTS[v]) for v in args.variants]
    if args.baseline_repo:
        jobs.append(("baseline", Path(args.baseline_repo).resolve(), []))
    for name, path in data.items():
        for variant, repo, overrides in jobs:
            row = time_generate(repo, path, overrides, ckpt, work, args.repeats, use_pty)
            row = {**stamp, "dataset": name, "variant": variant, **row}
            row["targets"] = targets_for(row) if variant == "default" else {}
            update_results(args.out, f"{name}/{variant}", row)
            print(f"{name}/{variant}: whole {row['whole_s']:.2f} s, in-process {row['in_process_s']['total']:.2f} s, "
                  f"{row['images_used']} images, peak {row['peak_rss_mb']:.0f} MB "
                  f"(runs {[r['wall_s'] for r in row['runs']]})", flush=True)
    if args.levers:
        levers = {**stamp, "setup_breakdown_s": setup_breakdown(ckpt, args.repeats)}
        print("setup pieces (median s):", levers["setup_breakdown_s"], flush=True)
        levers["extraction"] = extraction_levers(dataset_paths(["cifar10"], work)["cifar10"], args.repeats)
        print("extraction img/s:", levers["extraction"], flush=True)
        update_results(args.out, "levers", levers)
    write_table(json.loads(Path(args.out).read_text()))
    print(f"\nload average {load_start[0]:.2f} -> {os.getloadavg()[0]:.2f}; checkpoints {kind}; wrote {args.out}, {TABLE}")
    return 0


def cpu_name() -> str:
    try:
        return next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor()


if __name__ == "__main__":
    sys.exit(main())
