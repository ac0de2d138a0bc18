"""Finished (method, task) results on disk, so a stopped benchmark resumes where it stopped.

    <root>/<method>/<task>.json = {"key": sha256, "result": {runs, timings, scores, summary}}

A result is reused only when its key matches, and the key covers everything the result
depends on:

- the method's resolved config and the sha256 of every file it names (checkpoints, stores);
- the task's evaluated cells, their ground truth, its seeds and its recipe; for a task whose
  truth is a table, the table's name and every value; for a task with its own checkpoints (a
  held-out domain), the sha256 of each of them;
- the seeds the method runs and the number of timings.

A changed checkpoint, a re-collected task or other seeds therefore recompute, and nothing
else does. Several benchmark processes may share one root (each with its own ``only=``):
every file is written atomically and holds one (method, task). Search seconds are reused as
they were measured.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from metad2a.atomic import atomic_write_json
from metad2a.bench.metrics import RUN_METRICS
from metad2a.bench.provenance import fingerprints
from metad2a.bench.report import clean
from metad2a.bench.runner import MethodOnTask
from metad2a.bench.tasks import LODO_FILES, BenchTask
from metad2a.recipe import recipe_hash

FORMAT = 1


def _sha(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def method_key(name: str, resolved_method: Mapping[str, Any], seeds: Sequence[int], timing_repeats: int) -> str:
    """What a method's results depend on besides the task (files it names are hashed by content)."""
    paths = [v for v in resolved_method.values() if isinstance(v, str)]
    files = {Path(p).name: sha for p, sha in fingerprints(paths).items()}
    return _sha({"format": FORMAT, "name": name, "config": dict(resolved_method), "files": files,
                 "seeds": [int(s) for s in seeds], "timing_repeats": int(timing_repeats)})


def task_key(task: BenchTask) -> str:
    """The task's identity: its evaluated cells, their ground truth, seeds and recipe (and table, checkpoints)."""
    key = {"name": task.name, "role": task.role, "archs": list(task.archs),
           "accs": [round(float(a), 6) for a in task.accs], "seeds": list(task.seeds),
           "recipe": recipe_hash(task.recipe)}
    if task.table is not None:  # only then, so the keys of results cached before tables existed still match
        key["table"] = {"name": task.table.name, "archs": _sha(task.table.archs),
                        "accs": _sha([round(float(a), 6) for a in task.table.accs])}
    if task.checkpoint_dir:
        files = [str(Path(task.checkpoint_dir) / f) for f in LODO_FILES]
        key["checkpoints"] = {Path(p).name: sha for p, sha in fingerprints(files).items()}
    return _sha(key)


def _none_to_nan(obj: Any, numeric: frozenset[str]) -> Any:
    """Undo ``report.clean``'s nan -> None for the numeric fields (a pick of None stays None)."""
    if isinstance(obj, dict):
        return {k: (float("nan") if v is None and k in numeric else _none_to_nan(v, numeric)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_none_to_nan(v, numeric) for v in obj]
    return obj


_NUMERIC = frozenset({*RUN_METRICS, *(f"{m}_std" for m in RUN_METRICS), "search_s", "cells_trained"})


class ResultCache:
    """get/put of ``MethodOnTask`` under ``root``; ``keys`` maps method name -> ``method_key``.

    ``hits`` and ``misses`` count lookups.
    """

    def __init__(self, root: str | os.PathLike, keys: Mapping[str, str]):
        self.root, self.keys = Path(root), dict(keys)
        self.hits = self.misses = 0
        self._task_keys: dict[str, str] = {}

    def path(self, method: str, task: BenchTask) -> Path:
        return self.root / method / f"{task.name}.json"

    def _key(self, method: str, task: BenchTask) -> str:
        if task.name not in self._task_keys:
            self._task_keys[task.name] = task_key(task)
        return _sha([self.keys[method], self._task_keys[task.name]])

    def get(self, method: str, task: BenchTask) -> MethodOnTask | None:
        """The stored result when its key matches, else None (a torn or foreign file counts as missing)."""
        p = self.path(method, task)
        try:
            stored = json.loads(p.read_text())
            hit = stored["key"] == self._key(method, task)
        except (OSError, ValueError, KeyError, TypeError):
            hit = False
        if not hit:
            self.misses += 1
            return None
        self.hits += 1
        r = _none_to_nan(stored["result"], _NUMERIC)
        return MethodOnTask(r["runs"], [float(t) for t in r["timings"]], r["scores"], r["summary"])

    def put(self, method: str, task: BenchTask, result: MethodOnTask) -> Path:
        body = {"runs": result.runs, "timings": result.timings, "scores": result.scores, "summary": result.summary}
        return atomic_write_json(self.path(method, task), {"key": self._key(method, task), "method": method,
                                                           "task": task.name, "result": clean(body)})
