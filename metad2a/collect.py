"""Collect (task, cell, seed, recipe) training records into a SQLite store, resumably.

Library use (no Hydra): ``plan_tasks``, ``plan_cells``, ``plan_jobs``, ``collect``.
Command line (Hydra, config ``conf/collect.yaml``)::

    python -m metad2a.collect                                   # one worker, everything
    python -m metad2a.collect -m hydra/launcher=local num_workers=2 'worker=range(2)'
    python -m metad2a.collect kind=meta-test                    # meta-test ground truth
    python -m metad2a.collect stage=features                    # per-class frozen features

Each worker takes every num_workers-th job of the list, skips keys already in the store,
claims each job before training it (so workers that overlap never repeat each other's work)
and commits every record as it finishes, so a rerun (or ``kill -9``) resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import multiprocessing
import os
import sqlite3
import threading
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from metad2a.database.store import CLAIMED, STORED, EmptyStoreError, Store, new_owner
from metad2a.database.tasks import (
    TaskImages,
    TaskSpec,
    load_task_images,
    make_meta_train_tasks,
    make_source_tasks,
    meta_test_tasks,
)
from metad2a.errors import MetaD2AError
from metad2a.recipe import Recipe, recipe_hash

log = logging.getLogger(__name__)
_REPO = Path(__file__).resolve().parent.parent
DEFAULT_PROBE_RESULT = _REPO / "bench" / "results" / "recipe_probe.json"

Job = tuple[TaskSpec, str, int]  # (task, arch, seed)
# A claim's lifetime without renewal: how long a killed worker's jobs stay blocked. Live
# workers renew every lease_s / 5, so runs may last longer than this.
DEFAULT_LEASE_S = 300.0


def plan_tasks(kind: str, recipe: Recipe, num: int = 100, k: int = 20, seed: int = 0,
               source: str = "tiny-imagenet", fractions: Sequence[float] = (0.8, 0.1, 0.1),
               datasets: Sequence[str] = ("cifar10", "mnist", "fashion-mnist"),
               groups: Sequence[dict] | None = None) -> list[TaskSpec]:
    """The task list: meta-training tasks, or the meta-test ``datasets``.

    Without ``groups``: ``num`` k-class tasks of one source, images per class from the recipe
    (``train_per_class``, ``test_per_class``). With ``groups`` (database v2): each group is
    ``{source, num, ks, train_counts, test_per_class}`` (see ``make_source_tasks``), and the
    sources' tasks are interleaved round-robin so a partial collection covers every source.
    """
    if kind == "meta-train" and groups:
        per_source = [make_source_tasks(g["source"], int(g["num"]), list(g["ks"]), list(g["train_counts"]),
                                        int(g["test_per_class"]), seed, fractions) for g in groups]
        return [t for row in itertools.zip_longest(*per_source) for t in row if t is not None]
    if kind == "meta-train":
        return make_meta_train_tasks(num, k, recipe.train_per_class, recipe.test_per_class, seed,
                                     source=source, fractions=fractions)
    if kind == "meta-test":
        return meta_test_tasks(recipe.train_per_class, recipe.test_per_class, seed, datasets)
    raise MetaD2AError(f"kind must be 'meta-train' or 'meta-test', got {kind!r}")


def plan_cells(task_id: str, per_task: int, shared: int = 0, seed: int = 0,
               pool: Sequence[str] | None = None) -> list[str]:
    """``per_task`` distinct cells drawn uniformly from ``pool`` (default: the 6,466 unique cells).

    The first ``shared`` cells are the same for every task (anchors across tasks); the rest
    are drawn per task from a generator seeded by (seed, task_id), so they never depend on
    which other tasks exist.
    """
    pool = list(_unique_cells() if pool is None else pool)
    if not 0 <= shared <= per_task <= len(pool):
        raise MetaD2AError(f"need 0 <= shared ({shared}) <= per_task ({per_task}) <= {len(pool)} cells")
    anchors = list(np.random.default_rng([seed, 0]).choice(len(pool), size=shared, replace=False))
    rest = np.setdiff1d(np.arange(len(pool)), anchors)
    tid = int(hashlib.sha1(task_id.encode()).hexdigest()[:12], 16)
    own = np.random.default_rng([seed, 1, tid]).choice(rest, size=per_task - shared, replace=False)
    return [pool[i] for i in anchors] + [pool[i] for i in own]


@lru_cache(maxsize=1)
def _unique_cells() -> tuple[str, ...]:
    from metad2a.space import unique_cells

    return tuple(unique_cells())


def extend_cells(cells: Sequence[str], n: int, task_id: str, seed: int = 0,
                 pool: Sequence[str] | None = None) -> list[str]:
    """``cells`` followed by distinct extra cells, drawn uniformly, up to ``n`` in all.

    The extras come from their own generator seeded by (seed, task_id), so a task's planned
    cells stay a prefix of its extended list (finished records keep counting).
    """
    pool = list(_unique_cells() if pool is None else pool)
    if n <= len(cells):
        return list(cells)
    have = set(cells)
    rest = [i for i, a in enumerate(pool) if a not in have]
    tid = int(hashlib.sha1(task_id.encode()).hexdigest()[:12], 16)
    extra = np.random.default_rng([seed, 2, tid]).choice(len(rest), size=n - len(cells), replace=False)
    return list(cells) + [pool[rest[i]] for i in extra]


def plan_noise(tasks: Sequence[TaskSpec], cells: dict[str, list[str]], seeds: Sequence[int], split: str,
               num: int, num_cells: int, noise_seeds: Sequence[int], seed: int = 0
               ) -> tuple[list[TaskSpec], dict[str, list[str]], dict[str, list[int]]]:
    """Give the first ``num`` tasks of ``split`` ``num_cells`` cells and every seed in ``noise_seeds``.

    Those repeated runs measure the recipe's seed-to-seed Spearman inside the database itself
    (``python -m metad2a.database stats``), and they make the held-out tasks' ground truth a
    seed mean. Returns (tasks with the noise tasks first, cells, seeds per task).
    """
    chosen = [t for t in tasks if t.split == split][:num]
    ids = {t.task_id for t in chosen}
    cells = dict(cells)
    per_seed = {t.task_id: sorted(set(seeds) | (set(noise_seeds) if t.task_id in ids else set())) for t in tasks}
    for t in chosen:
        cells[t.task_id] = extend_cells(cells[t.task_id], num_cells, t.task_id, seed)
    return chosen + [t for t in tasks if t.task_id not in ids], cells, per_seed


def plan_jobs(tasks: Sequence[TaskSpec], cells: dict[str, list[str]], seeds: Sequence[int] | dict[str, Sequence[int]],
              worker: int = 0, num_workers: int = 1) -> list[Job]:
    """This worker's share of the (task, cell, seed) job list: every ``num_workers``-th job.

    The list is task-major, so a worker still meets each task in one stretch (its images are
    loaded once), and all workers move through the tasks together: the first tasks (the noise
    tasks) finish first. ``seeds`` is one list for all tasks or a list per task id.
    """
    if not 0 <= worker < num_workers:
        raise MetaD2AError(f"worker must be in [0, num_workers={num_workers}), got {worker}")
    per_task = seeds if isinstance(seeds, dict) else {t.task_id: seeds for t in tasks}
    jobs = [(t, a, int(s)) for t in tasks for a in cells[t.task_id] for s in per_task[t.task_id]]
    return jobs[worker::num_workers]


def resolve_device(device: str) -> str:
    """"auto" -> "cuda" when available, else "cpu"."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def collect(db: str | os.PathLike, jobs: Sequence[Job], recipe: Recipe, role: str = "meta-train",
            device: str = "cpu", data_root: str | os.PathLike | None = None, max_runs: int | None = None,
            progress: bool = True, meta: dict | None = None, lease_s: float = DEFAULT_LEASE_S) -> dict:
    """Train every job not yet in ``db`` and store each record as soon as it finishes.

    Returns {"planned", "skipped" (stored already), "busy" (claimed by another live worker),
    "trained", "stored"}. ``max_runs`` stops after that many new runs (a sitting); a rerun
    continues. ``meta`` entries are written to the store's metadata when they change.

    Any number of workers may share ``db`` and overlapping jobs: each job is claimed before it
    is trained (``Store.claim``), with a lease of ``lease_s`` seconds that a heartbeat renews
    while this worker lives. A worker started by multiprocessing (Hydra's joblib launcher)
    stops between jobs once its parent has died, so orphans of a killed multirun finish at
    most the run they are in. With nothing to train, the store is only read: the file stays
    byte-identical.
    """
    from tqdm.auto import tqdm

    from metad2a.recipe import train_cell

    h = recipe_hash(recipe)
    summary = {"planned": len(jobs), "skipped": 0, "busy": 0, "trained": 0, "stored": 0}
    tasks = sorted({t.task_id: t for t, _, _ in jobs}.values(), key=lambda t: t.task_id)
    done = _stored_keys(db, role, h, tasks)
    todo = [j for j in jobs if (j[0].task_id, j[1], j[2], h) not in done]
    summary["skipped"] = len(jobs) - len(todo)
    if not todo or max_runs == 0:
        return summary
    owner = new_owner()
    parent = multiprocessing.parent_process()
    with Store(db, role=role) as store, _Heartbeat(db, role, owner, lease_s):
        store.add_recipe(recipe)
        store.add_tasks(tasks)
        for key, value in (meta or {}).items():
            store.set_meta(key, value)
        images: tuple[str, TaskImages] | None = None
        try:
            for spec, arch, seed in tqdm(todo, desc=f"collect {Path(db).name}", unit="run", disable=not progress):
                if max_runs is not None and summary["trained"] >= max_runs:
                    break
                if _orphaned(parent):
                    log.warning("worker %s: its launcher (pid %d) is gone: stopping", owner, parent.pid)
                    break
                state = store.claim((spec.task_id, arch, seed, h), owner, lease_s)
                if state != CLAIMED:
                    summary["skipped" if state == STORED else "busy"] += 1
                    continue
                log.debug("train %s %s seed %d recipe %s owner %s", spec.task_id, arch, seed, h, owner)
                if images is None or images[0] != spec.task_id:
                    data = load_task_images(spec, recipe.resolution, data_root, meta_test_ok=(role == "meta-test"))
                    store.set_meta(f"fingerprint/{spec.task_id}/{recipe.resolution}", data.fingerprint())
                    images = (spec.task_id, data)
                d = images[1]
                rec = train_cell(arch, d.train_x, d.train_y, d.test_x, d.test_y, spec.num_classes, recipe,
                                 seed=seed, device=device)
                summary["trained"] += 1
                summary["stored"] += int(store.add_record(spec.task_id, rec))  # drops the claim
        finally:
            store.release(owner)  # a job interrupted by an error is claimable again at once
    return summary


def _stored_keys(db: str | os.PathLike, role: str, h: str, tasks: Sequence[TaskSpec]) -> set:
    """Keys of recipe ``h`` already in ``db``, after checking ``tasks`` against it; only reads."""
    if not Path(db).is_file():
        return set()
    try:
        with Store(db, role=role, readonly=True) as store:
            store.check_tasks(tasks)
            return store.done_keys(h)
    except EmptyStoreError:  # another worker is creating it right now
        return set()


def _orphaned(parent) -> bool:
    """Whether the process that started this one (``multiprocessing.parent_process()``) has died.

    Only multiprocessing children are checked: a plain ``python -m metad2a.collect`` keeps
    running when its shell goes (nohup). Loky gives no parent sentinel, so compare pids: an
    orphan is re-parented (to init or a subreaper).
    """
    return parent is not None and parent.pid is not None and os.getppid() != parent.pid


class _Heartbeat:
    """Renews ``owner``'s claims every ``lease_s / 5`` seconds while the ``with`` block runs.

    A thread with its own connection (SQLite connections stay in their thread), so a run
    longer than the lease stays claimed; a killed worker stops renewing and its leases expire.
    """

    def __init__(self, db: str | os.PathLike, role: str, owner: str, lease_s: float):
        if lease_s <= 0:
            raise MetaD2AError(f"lease_s must be > 0 seconds (a claim's lifetime), got {lease_s}")
        self.db, self.role, self.owner, self.lease_s = db, role, owner, lease_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"claims-heartbeat-{owner}", daemon=True)

    def _run(self) -> None:
        try:
            with Store(self.db, role=self.role) as store:
                while not self._stop.wait(self.lease_s / 5):
                    store.renew(self.owner, self.lease_s)
        except (sqlite3.Error, MetaD2AError) as e:  # the leases then expire: others may repeat our runs
            log.warning("claims heartbeat of %s stopped: %s", self.owner, e)

    def __enter__(self) -> "_Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def probe_meta(recipe: Recipe, path: str | os.PathLike = DEFAULT_PROBE_RESULT) -> dict:
    """{"recipe_probe/<hash>": measurement} when the probe result file measured this recipe."""
    p = Path(path)
    if not p.is_file():
        return {}
    result = json.loads(p.read_text())
    chosen = result.get("chosen", {})
    if chosen.get("recipe_hash") != recipe_hash(recipe):
        log.warning("%s measured recipe %s, not %s: stats will lack seed/fidelity Spearman",
                    p, chosen.get("recipe_hash"), recipe_hash(recipe))
        return {}
    return {f"recipe_probe/{recipe_hash(recipe)}": {k: chosen[k] for k in chosen if k != "recipe"}}


def build_features(cfg, tasks: Sequence[TaskSpec]) -> Path:
    """Write the per-class frozen features of ``tasks`` to ``cfg.features.path``."""
    from metad2a.database.features_store import build_feature_file
    from metad2a.features import build_extractor

    ex = build_extractor(cfg.features.extractor, cfg.features.resolution, device=resolve_device(cfg.device))
    return build_feature_file(cfg.features.path, tasks, ex, cfg.features.n_per_class, cfg.features.image_size,
                              extractor_tag=f"{ex.tag}@{ex.resolution}", root=cfg.data_root,
                              meta_test_ok=(cfg.kind == "meta-test"))


def run(cfg) -> dict:
    """Everything ``main`` does, from a resolved config (a DictConfig or a plain dict)."""
    import torch
    from omegaconf import OmegaConf

    torch.set_num_threads(int(cfg.threads))
    recipe = Recipe.from_dict(OmegaConf.to_container(cfg.recipe, resolve=True))
    t = cfg.tasks
    groups = [dict(g) for g in t.get("groups") or []]
    tasks = plan_tasks(cfg.kind, recipe, t.num, t.k, t.seed, t.source, list(t.fractions), list(t.datasets), groups)
    nb201 = cfg.kind == "meta-train" and bool(t.get("nb201_import"))
    if cfg.stage == "features":
        from metad2a.database.nb201_import import nb201_task

        return {"features": str(build_features(cfg, [nb201_task(), *tasks] if nb201 else tasks))}
    if cfg.stage != "records":
        raise MetaD2AError(f"stage must be 'records' or 'features', got {cfg.stage!r}")
    cells = {s.task_id: plan_cells(s.task_id, cfg.cells.per_task, cfg.cells.shared, cfg.cells.seed) for s in tasks}
    seeds: list[int] | dict[str, list[int]] = list(cfg.seeds)
    nz = cfg.get("noise")
    if cfg.kind == "meta-train" and nz and int(nz.tasks) > 0:
        tasks, cells, seeds = plan_noise(tasks, cells, seeds, nz.split, int(nz.tasks), int(nz.cells),
                                         list(nz.seeds), cfg.cells.seed)
    jobs = plan_jobs(tasks, cells, seeds, cfg.worker, cfg.num_workers)
    conf = OmegaConf.to_container(cfg, resolve=True)
    conf.pop("worker")
    meta = {f"collect_config/{cfg.kind}": conf, **probe_meta(recipe, cfg.probe_result or DEFAULT_PROBE_RESULT)}
    if nb201:
        import_table(cfg.db)
    summary = collect(cfg.db, jobs, recipe, role=cfg.kind, device=resolve_device(cfg.device),
                      data_root=cfg.data_root, max_runs=cfg.max_runs, progress=cfg.progress, meta=meta,
                      lease_s=float(cfg.get("lease_s", DEFAULT_LEASE_S)))
    log.info("worker %d/%d: %s", cfg.worker, cfg.num_workers, summary)
    return summary


def import_table(db: str | os.PathLike) -> int:
    """Import NB201's ImageNet16-120 table into the meta-train store ``db`` unless it is there."""
    from metad2a.database.nb201_import import NB201_TASK_ID, import_nb201_table

    if Path(db).is_file():
        with Store(db, role="meta-train") as store:
            if store.con.execute("SELECT 1 FROM records WHERE task_id = ? LIMIT 1", (NB201_TASK_ID,)).fetchone():
                return 0
    with Store(db, role="meta-train") as store:
        added = import_nb201_table(store)
    log.info("imported %d NB201 ImageNet16-120 records into %s", added, db)
    return added


def main() -> None:
    import hydra

    from metad2a.collect_config import register_configs

    register_configs()  # conf/collect.yaml's schema: Hydra refuses wrong types and unknown keys

    @hydra.main(config_path=str(_REPO / "conf"), config_name="collect", version_base="1.3")
    def _main(cfg) -> None:
        print(json.dumps(run(cfg)))

    _main()


if __name__ == "__main__":
    # Run the imported module's main, not this __main__ copy: joblib/submitit workers unpickle
    # the task function by reference to metad2a.collect, which __main__ is not in a worker.
    from metad2a import collect as _module

    _module.main()
