"""The record store: one SQLite file of tasks, recipes and (task, cell, seed, recipe) records.

Why SQLite (stdlib ``sqlite3``), not Parquet or a folder of JSON files:

- **Concurrent writers.** In WAL mode readers never block and writers queue on a single lock;
  with a busy timeout, several worker processes on one machine append to the same file safely.
- **Crash safety.** Each record is its own transaction. ``kill -9`` mid-run loses only the runs
  still training; a half-written transaction is rolled back from the journal on next open, so
  the file is never corrupt. Parquet has no append transactions; JSON files need locking.
- **Resume for free.** ``UNIQUE(task_id, arch, seed, recipe_hash)`` with ``INSERT OR IGNORE``
  makes re-running finished work a no-op, and ``done_keys()`` lets workers skip it up front.
- **One file, no server, no dependency**; ``merge`` folds shards from other machines into it
  (use one shard per machine: WAL needs shared memory, so not over NFS).

Records: per-epoch train loss, test accuracy and test loss (JSON lists), final accuracy, the
recipe's target, params, FLOPs, wall and CPU seconds, device, host and creation time.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from pathlib import Path
from typing import Iterable, Iterator

from metad2a.database.tasks import TaskSpec, check_meta_train
from metad2a.errors import MetaD2AError

ROLES = ("meta-train", "meta-test")
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    task_id TEXT PRIMARY KEY, source TEXT NOT NULL, split TEXT NOT NULL,
    num_classes INTEGER NOT NULL, spec TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS recipes (recipe_hash TEXT PRIMARY KEY, spec TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY,
    task_id TEXT NOT NULL REFERENCES tasks(task_id),
    arch TEXT NOT NULL, seed INTEGER NOT NULL,
    recipe_hash TEXT NOT NULL REFERENCES recipes(recipe_hash),
    final_acc REAL NOT NULL, target REAL NOT NULL,
    train_loss TEXT NOT NULL, test_acc TEXT NOT NULL, test_loss TEXT NOT NULL,
    params INTEGER, flops INTEGER, wall_s REAL, cpu_s REAL,
    device TEXT, host TEXT, created REAL NOT NULL,
    UNIQUE (task_id, arch, seed, recipe_hash));
CREATE INDEX IF NOT EXISTS records_task ON records (task_id, recipe_hash);
"""

RECORD_COLUMNS = ("task_id", "arch", "seed", "recipe_hash", "final_acc", "target", "train_loss", "test_acc",
                  "test_loss", "params", "flops", "wall_s", "cpu_s", "device", "host", "created")
_JSON_COLUMNS = ("train_loss", "test_acc", "test_loss")

Key = tuple[str, str, int, str]  # (task_id, arch, seed, recipe_hash)


class StoreError(MetaD2AError, RuntimeError):
    """The record store cannot be opened or used as asked."""


def _connect(path: str | os.PathLike, timeout: float) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a writer takes the lock up
    # front instead of failing to upgrade a read lock (the classic SQLITE_BUSY deadlock).
    con = sqlite3.connect(str(path), timeout=timeout, isolation_level=None)
    con.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = FULL")
    con.execute("PRAGMA foreign_keys = ON")
    return con


class Store:
    """An open record store. Use as a context manager; one per process (connections don't fork).

    path:    the .sqlite file (created with its parent folder)
    role:    "meta-train" refuses meta-test tasks; "meta-test" holds only those. Fixed at
             creation and checked on every later open.
    timeout: seconds a writer waits for the lock before failing
    """

    def __init__(self, path: str | os.PathLike, role: str = "meta-train", timeout: float = 120.0):
        if role not in ROLES:
            raise StoreError(f"store role must be one of {ROLES}, got {role!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = _connect(self.path, timeout)
        with self._write():
            for stmt in _statements(_SCHEMA):  # not executescript: it would COMMIT mid-transaction
                self.con.execute(stmt)
            self.con.execute("INSERT OR IGNORE INTO meta VALUES ('role', ?)", (json.dumps(role),))
            self.con.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        stored = self.get_meta("role")
        if stored != role:
            raise StoreError(f"{self.path} is a {stored} store, opened as {role}: "
                             f"open it with role={stored!r} or use another file")
        self.role = role

    # -- plumbing
    def _write(self) -> "_Txn":
        return _Txn(self.con)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- metadata
    def set_meta(self, key: str, value) -> None:
        """Store a JSON-serialisable value under ``key`` (replacing any old one)."""
        with self._write():
            self.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value, sort_keys=True)))

    def get_meta(self, key: str, default=None):
        row = self.con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def meta(self) -> dict:
        return {k: json.loads(v) for k, v in self.con.execute("SELECT key, value FROM meta")}

    # -- tasks and recipes
    def add_tasks(self, specs: Iterable[TaskSpec]) -> None:
        """Register task specs (idempotent). A different spec under an existing id is an error."""
        specs = list(specs)
        if self.role == "meta-train":
            check_meta_train(specs)
        elif not all(s.meta_test for s in specs):
            raise StoreError(f"{self.path} is a meta-test store: only meta-test tasks go in it")
        with self._write():
            for s in specs:
                row = self.con.execute("SELECT spec FROM tasks WHERE task_id = ?", (s.task_id,)).fetchone()
                if row and row[0] != s.to_json():
                    raise StoreError(f"task {s.task_id} already in {self.path} with a different spec: "
                                     "use a new task id (or a new store) for changed tasks")
                self.con.execute("INSERT OR IGNORE INTO tasks VALUES (?, ?, ?, ?, ?)",
                                 (s.task_id, s.source, s.split, s.num_classes, s.to_json()))

    def tasks(self, split: str | None = None) -> list[TaskSpec]:
        q, args = "SELECT spec FROM tasks", ()
        if split is not None:
            q, args = q + " WHERE split = ?", (split,)
        return [TaskSpec.from_dict(json.loads(r[0])) for r in self.con.execute(q + " ORDER BY task_id", args)]

    def add_recipe(self, recipe) -> str:
        """Register a ``Recipe`` (idempotent); returns its hash."""
        from metad2a.recipe import canonical_json, recipe_hash

        h = recipe_hash(recipe)
        with self._write():
            self.con.execute("INSERT OR IGNORE INTO recipes VALUES (?, ?)", (h, canonical_json(recipe)))
        return h

    def recipes(self) -> dict[str, dict]:
        return {h: json.loads(s) for h, s in self.con.execute("SELECT recipe_hash, spec FROM recipes")}

    # -- records
    def add_record(self, task_id: str, record: dict) -> bool:
        """Insert one training result (a ``train_cell`` dict) in its own transaction.

        Returns False when the key (task_id, arch, seed, recipe_hash) was already stored: the
        existing record is kept (INSERT OR IGNORE), so re-running work is harmless.
        """
        row = {"task_id": task_id, "host": socket.gethostname(), "created": time.time(), "cpu_s": None,
               **{k: record[k] for k in record if k in RECORD_COLUMNS}}
        for k in _JSON_COLUMNS:
            row[k] = json.dumps([round(float(v), 5) for v in row[k]])
        missing = [c for c in RECORD_COLUMNS if c not in row]
        if missing:
            raise StoreError(f"record for {task_id} lacks {missing}: pass the dict train_cell returns")
        with self._write():
            cur = self.con.execute(
                f"INSERT OR IGNORE INTO records ({', '.join(RECORD_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(RECORD_COLUMNS))})", [row[c] for c in RECORD_COLUMNS])
        return cur.rowcount == 1

    def add_records(self, rows: Iterable[dict]) -> int:
        """Insert many complete rows (every ``RECORD_COLUMNS`` key) in one transaction; returns rows added.

        For bulk imports (e.g. a published table); training results go through ``add_record``.
        """
        data = []
        for row in rows:
            missing = [c for c in RECORD_COLUMNS if c not in row]
            if missing:
                raise StoreError(f"row for {row.get('task_id')} lacks {missing}")
            data.append([json.dumps(row[c]) if c in _JSON_COLUMNS else row[c] for c in RECORD_COLUMNS])
        with self._write():
            before = self.count()
            self.con.executemany(f"INSERT OR IGNORE INTO records ({', '.join(RECORD_COLUMNS)}) "
                                 f"VALUES ({', '.join('?' * len(RECORD_COLUMNS))})", data)
            return self.count() - before

    def done_keys(self, recipe_hash: str | None = None) -> set[Key]:
        """Keys already stored (optionally for one recipe): what a resuming worker skips."""
        q = "SELECT task_id, arch, seed, recipe_hash FROM records"
        args: tuple = ()
        if recipe_hash is not None:
            q, args = q + " WHERE recipe_hash = ?", (recipe_hash,)
        return {(t, a, int(s), h) for t, a, s, h in self.con.execute(q, args)}

    def records(self, task_id: str | None = None, recipe_hash: str | None = None) -> Iterator[dict]:
        """Records as dicts (JSON columns decoded), in insertion order."""
        where, args = [], []
        for col, val in (("task_id", task_id), ("recipe_hash", recipe_hash)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        q = f"SELECT {', '.join(RECORD_COLUMNS)} FROM records"
        q += f" WHERE {' AND '.join(where)}" if where else ""
        for r in self.con.execute(q + " ORDER BY id", args):
            d = dict(zip(RECORD_COLUMNS, r))
            for k in _JSON_COLUMNS:
                d[k] = json.loads(d[k])
            yield d

    def seed_means(self, split: str | None = None, recipe_hash: str | None = None,
                   value: str = "target") -> dict[str, tuple[list[str], list[float]]]:
        """Per task (of ``split``): its cells, sorted, and their seed-mean ``value`` ("target" or "final_acc")."""
        if value not in ("target", "final_acc"):
            raise StoreError(f"value must be 'target' or 'final_acc', got {value!r}")
        q = (f"SELECT r.task_id, r.arch, AVG(r.{value}) FROM records r JOIN tasks t USING (task_id) "
             "WHERE (? IS NULL OR t.split = ?) AND (? IS NULL OR r.recipe_hash = ?) "
             "GROUP BY r.task_id, r.arch ORDER BY r.task_id, r.arch")
        out: dict[str, tuple[list[str], list[float]]] = {}
        for t, a, y in self.con.execute(q, (split, split, recipe_hash, recipe_hash)):
            archs, ys = out.setdefault(t, ([], []))
            archs.append(a)
            ys.append(float(y))
        return out

    def count(self) -> int:
        return self.con.execute("SELECT COUNT(*) FROM records").fetchone()[0]


class _Txn:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` on error): one atomic write."""

    def __init__(self, con: sqlite3.Connection):
        self.con = con

    def __enter__(self) -> None:
        self.con.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, *_) -> None:
        self.con.execute("ROLLBACK" if exc_type else "COMMIT")


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def merge(dst: str | os.PathLike, *shards: str | os.PathLike) -> int:
    """Fold the tasks, recipes, records and metadata of ``shards`` into ``dst``; return records added.

    Records already in ``dst`` (same key) are kept; so are metadata keys. Shards must have
    ``dst``'s role, and a task id must mean the same spec everywhere.
    """
    if not shards:
        raise StoreError("merge needs at least one shard: merge DST SHARD [SHARD ...]")
    role = _role_of(shards[0])
    added = 0
    with Store(dst, role=role) as out:
        for shard in shards:
            if Path(shard).resolve() == out.path.resolve():
                continue
            with Store(shard, role=role) as src:
                out.add_tasks(src.tasks())
                with out._write():
                    for h, spec in src.con.execute("SELECT recipe_hash, spec FROM recipes"):
                        out.con.execute("INSERT OR IGNORE INTO recipes VALUES (?, ?)", (h, spec))
                    for k, v in src.con.execute("SELECT key, value FROM meta"):
                        out.con.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (k, v))
                    cols = ", ".join(RECORD_COLUMNS)
                    before = out.count()
                    rows = src.con.execute(f"SELECT {cols} FROM records ORDER BY id").fetchall()
                    out.con.executemany(f"INSERT OR IGNORE INTO records ({cols}) "
                                        f"VALUES ({', '.join('?' * len(RECORD_COLUMNS))})", rows)
                    added += out.count() - before
    return added


def _role_of(path: str | os.PathLike) -> str:
    """The role recorded in an existing store file."""
    if not Path(path).is_file():
        raise StoreError(f"shard {path} does not exist: pass existing .sqlite files to merge")
    con = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True, timeout=60)
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'role'").fetchone()
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{path} is not a metad2a store ({e}): pass files written by metad2a.collect") from e
    finally:
        con.close()
    if not row:
        raise StoreError(f"{path} has no role: it was not written by metad2a.collect")
    return json.loads(row[0])
