"""bench/publish_collection.py: a consistent copy of a working store, optionally without the imported table."""

import dataclasses
import importlib.util
import sqlite3
from pathlib import Path

from metad2a.database.nb201_import import NB201_TASK_ID
from metad2a.database.store import Store, merge
from metad2a.database.tasks import make_meta_train_tasks
from metad2a.recipe import MINI, recipe_hash

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("publish_collection", REPO / "bench" / "publish_collection.py")
publish_collection = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(publish_collection)

A1 = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|none~0|none~1|avg_pool_3x3~2|"
A2 = "|skip_connect~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|"


def record(arch: str) -> dict:
    return {"arch": arch, "seed": 0, "recipe_hash": recipe_hash(MINI), "train_loss": [2.0], "test_acc": [40.0],
            "test_loss": [1.9], "final_acc": 40.0, "target": 40.0, "params": 10, "flops": 20,
            "wall_s": 1.0, "cpu_s": 0.9, "device": "cpu"}


def test_own_runs_leave_the_imported_table_out_and_merge_back(tmp_path):
    own, = make_meta_train_tasks(1, k=2, train_per_class=4, test_per_class=2, source="synthetic")
    table = dataclasses.replace(own, task_id=NB201_TASK_ID)
    work = tmp_path / "work"
    work.mkdir()
    with Store(work / "meta-train.sqlite") as s:
        s.add_recipe(MINI)
        s.add_tasks([own, table])
        s.add_record(own.task_id, record(A1))
        s.add_record(table.task_id, record(A1))
        s.add_record(table.task_id, record(A2))

    assert publish_collection.publish(work, tmp_path / "all") == {"meta-train.sqlite": 3}
    assert publish_collection.publish(work, tmp_path / "own", own_runs=True) == {"meta-train.sqlite": 1}
    con = sqlite3.connect(tmp_path / "own" / "meta-train.sqlite")
    assert con.execute("SELECT task_id FROM records").fetchall() == [(own.task_id,)]
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one self-contained file

    # a fresh working store (the table re-imported) takes the published runs back
    with Store(tmp_path / "fresh.sqlite") as s:
        s.add_recipe(MINI)
        s.add_tasks([own, table])
        s.add_record(table.task_id, record(A1))
    assert merge(tmp_path / "fresh.sqlite", tmp_path / "own" / "meta-train.sqlite") == 1
    con = sqlite3.connect(tmp_path / "fresh.sqlite")
    assert sorted(con.execute("SELECT task_id, arch FROM records").fetchall()) == sorted(
        [(NB201_TASK_ID, A1), (own.task_id, A1)])
