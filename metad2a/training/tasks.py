"""Where meta-training tasks come from: ``load_meta_tasks(cfg)`` builds ``cfg.data`` (a ``_target_``).

``data=meta_data`` reads the database (issue 3) through
``metad2a.database.features_store.load_task_data``; ``data=synthetic`` makes tasks in memory.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Mapping, Sequence

from metad2a.database.task_data import TaskData
from metad2a.errors import DataError, MetaD2AError


def load_database_tasks(db_path: str | os.PathLike, features_path: str | os.PathLike,
                        splits: Sequence[str] = ("train", "valid", "test"),
                        exclude_sources: Sequence[str] = (), recipes: Sequence[str] | None = None,
                        also: Sequence[Mapping[str, str]] = (),
                        train_on: Sequence[str] = ("train",)) -> list[TaskData]:
    """All tasks of the given meta splits from the shipped database and its per-class features.

    exclude_sources: leave out every task of these image sources (leave-one-domain-out runs)
    recipes:         keep only tasks labelled by these recipe names (None: all of them)
    also:            more stores to read the same way, each {db_path, features_path} (e.g. the
                     v1 database of mini-recipe runs, for a multi-fidelity model)
    train_on:        the splits whose tasks are trained on (relabelled "train"); a leave-one-domain-out
                     run adds "test", since it scores the held-out domain instead of the test tasks
    """
    bad = sorted(set(train_on) - {"train", "valid", "test"})
    if bad or "valid" in train_on:
        raise DataError(f"data.train_on={list(train_on)}: choose from train and test (valid tasks select checkpoints)")
    if also:
        first = load_database_tasks(db_path, features_path, splits, (), recipes)
        rest = [t for a in also for t in load_database_tasks(a["db_path"], a["features_path"], splits, (), recipes)]
        clash = sorted({t.task_id for t in first} & {t.task_id for t in rest})
        if clash:
            raise DataError(f"task ids {clash[:3]} are in more than one store of data.also: merge them instead")
        return _as_train(_without_sources(first + rest, exclude_sources), train_on)
    try:
        from metad2a.database.features_store import load_task_data
    except ImportError as e:
        raise DataError(f"cannot read the meta-training database ({e}): the database module (issue 3) is not "
                        "installed yet; use data=synthetic") from e
    for p, what in ((db_path, "database"), (features_path, "features")):
        if not os.path.exists(p):
            raise DataError(f"meta-training {what} not found at {p}: build it with the collection pipeline "
                            "(python -m metad2a.collect), set METAD2A_META_DATA, or use data=synthetic")
    tasks: list[TaskData] = []
    for split in splits:
        tasks += list(load_task_data(db_path, features_path, split))
    if recipes is not None:
        tasks = [t for t in tasks if t.recipe in set(recipes)]
    return _as_train(_without_sources(tasks, exclude_sources), train_on)


def _as_train(tasks: list[TaskData], train_on: Sequence[str]) -> list[TaskData]:
    return [dataclasses.replace(t, split="train") if t.split in set(train_on) else t for t in tasks]


def _without_sources(tasks: list[TaskData], exclude: Sequence[str]) -> list[TaskData]:
    known = {t.source for t in tasks}
    unknown = sorted(set(exclude) - known)
    if unknown:
        raise DataError(f"data.exclude_sources names {unknown}, which no task has: choose from {sorted(known)}")
    return [t for t in tasks if t.source not in set(exclude)]


def load_meta_tasks(cfg: Any) -> list[TaskData]:
    """Instantiate ``cfg.data`` (a Hydra node with ``_target_``) and check what it returned."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    try:
        tasks = instantiate(cfg.data, _convert_="all")
    except InstantiationException as e:
        if isinstance(e.__cause__, MetaD2AError):  # surface our one-line message, not Hydra's wrapper
            raise e.__cause__ from None
        raise
    if not tasks:
        raise DataError("the meta-training data has no tasks: check data= and its paths")
    if not all(isinstance(t, TaskData) for t in tasks):
        raise DataError(f"data={cfg.data.get('_target_')} must return list[TaskData]")
    return list(tasks)
