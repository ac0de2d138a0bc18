"""The record store: one SQLite file of tasks, recipes and (task, cell, seed, recipe) records.

Why SQLite (stdlib ``sqlite3``), not Parquet or a folder of JSON files:

- **Concurrent writers.** In WAL mode readers never block and writers queue on a single lock;
  with a busy timeout, several worker processes on one machine append to the same file safely.
- **Crash safety.** Each record is its own transaction. ``kill -9`` mid-run loses only the runs
  still training; a half-written transaction is rolled back from the journal on next open, so
  the file is never corrupt. Parquet has no append transactions; JSON files need locking.
- **Resume for free.** ``UNIQUE(task_id, arch, seed, recipe_hash)`` with ``INSERT OR IGNORE``
  makes re-running finished work a no-op, and ``done_keys()`` lets workers skip it up front.
- **Start-up.** ``journal_mode = WAL`` is stored in the file, so only its creator switches it;
  SQLite does not wait (busy timeout) for that switch or for the first schema, so opening
  retries them with backoff while another process holds the lock.
- **One file, no server, no dependency**; ``merge`` folds shards from other machines into it
  (use one shard per machine: WAL needs shared memory, so not over NFS).

Claims (``claim``/``renew``/``release``): why a lease row per job, in the same file:

- **No job trained twice.** Workers may overlap (two given the same share, a resume while an
  earlier run still works). Before training a job a worker claims it in one ``BEGIN IMMEDIATE``
  transaction, which succeeds only if the record is not stored and nobody else holds a live
  claim; storing the record deletes the claim in the same transaction, so "stored" and
  "claimed" never disagree. The lock that orders writers orders claims too: no extra service.
- **Leases, not locks.** A worker killed with ``kill -9`` cannot release anything, so a claim
  carries an expiry (``time.time()``: one machine, one clock, as WAL requires anyway). A live
  worker renews its claims while it trains; a dead one stops, and its jobs become claimable
  ``lease_s`` later, or at once when its owner id (``host:pid:token``, see ``new_owner``)
  names this host and a pid that no longer runs, so a resume right after ``kill -9`` loses
  nothing. A worker merely stalled past its lease may see its job trained again; the record
  is then stored once (``INSERT OR IGNORE``): only time is lost.

Schema version: ``PRAGMA user_version`` (0 in version-1 files, which predate it). A newer store
is refused; an older one stays readable and is migrated in place by its first write, never by
opening it, so reading (``readonly=True``, or a writable store that only reads) leaves the file
byte-for-byte as it was. v2 adds ``records.eval_epochs`` and the ``claims`` table.

Records: per-epoch train loss, test accuracy and test loss (JSON lists), the epochs the test set
was scored at (JSON list; NULL: every epoch), final accuracy, the recipe's target, params,
FLOPs, wall and CPU seconds, device, host and creation time.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import socket
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

from metad2a.database.tasks import TaskSpec, check_meta_train
from metad2a.errors import MetaD2AError

ROLES = ("meta-train", "meta-test")
SCHEMA_VERSION = 2

_CLAIMS = """
CREATE TABLE IF NOT EXISTS claims (
    task_id TEXT NOT NULL, arch TEXT NOT NULL, seed INTEGER NOT NULL, recipe_hash TEXT NOT NULL,
    owner TEXT NOT NULL, expires REAL NOT NULL,
    PRIMARY KEY (task_id, arch, seed, recipe_hash));
CREATE INDEX IF NOT EXISTS claims_owner ON claims (owner);
"""
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
    device TEXT, host TEXT, created REAL NOT NULL, eval_epochs TEXT,
    UNIQUE (task_id, arch, seed, recipe_hash));
CREATE INDEX IF NOT EXISTS records_task ON records (task_id, recipe_hash);
""" + _CLAIMS
# Statements that bring a store of version v-1 to version v.
_MIGRATIONS = {2: "ALTER TABLE records ADD COLUMN eval_epochs TEXT;" + _CLAIMS}

RECORD_COLUMNS = ("task_id", "arch", "seed", "recipe_hash", "final_acc", "target", "train_loss", "test_acc",
                  "test_loss", "params", "flops", "wall_s", "cpu_s", "device", "host", "created", "eval_epochs")
_OPTIONAL = ("cpu_s", "eval_epochs")  # a record may lack these (NULL)
_JSON_COLUMNS = ("train_loss", "test_acc", "test_loss")

Key = tuple[str, str, int, str]  # (task_id, arch, seed, recipe_hash)
_KEY_WHERE = "task_id = ? AND arch = ? AND seed = ? AND recipe_hash = ?"
# What ``Store.claim`` found: the job is now ours, already stored, or held by another live lease.
CLAIMED, STORED, BUSY = "claimed", "stored", "busy"
T = TypeVar("T")


class StoreError(MetaD2AError, RuntimeError):
    """The record store cannot be opened or used as asked."""


class EmptyStoreError(StoreError):
    """A file opened read-only holds no store yet (empty, or its creator has not committed)."""


def _busy(e: sqlite3.OperationalError) -> bool:
    return "locked" in str(e) or "busy" in str(e)


def _retry(fn: Callable[[], T], timeout: float) -> T:
    """``fn()``, retried with jittered exponential backoff while SQLite reports the file locked."""
    deadline, delay = time.monotonic() + timeout, 0.005
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as e:
            if not _busy(e) or time.monotonic() > deadline:
                raise
        time.sleep(delay * (0.5 + random.random()))
        delay = min(2 * delay, 0.25)


def _connect(path: Path, timeout: float, readonly: bool) -> sqlite3.Connection:
    # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a writer takes the lock up
    # front instead of failing to upgrade a read lock (the classic SQLITE_BUSY deadlock).
    if readonly and not os.access(path.parent, os.W_OK):  # cannot even make the -shm file
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout, isolation_level=None)
    else:
        con = sqlite3.connect(str(path), timeout=timeout, isolation_level=None)
    con.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    if readonly:
        # Not mode=ro: a read-only connection cannot remove the -wal and -shm files it creates,
        # a read-write one that closes last does. query_only makes SQLite refuse every write.
        con.execute("PRAGMA query_only = ON")
        return con
    con.execute("PRAGMA synchronous = FULL")
    con.execute("PRAGMA foreign_keys = ON")

    def wal() -> None:  # persistent: only the file's creator changes it
        if con.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            con.execute("PRAGMA journal_mode = WAL")

    _retry(wal, timeout)
    return con


class Store:
    """An open record store. Use as a context manager; one per process (connections don't fork).

    path:     the .sqlite file (created with its parent folder unless ``readonly``)
    role:     "meta-train" refuses meta-test tasks; "meta-test" holds only those. Fixed at
              creation and checked on every later open.
    timeout:  seconds a writer waits for the lock before failing
    readonly: open an existing store for reading only; writing raises StoreError
    """

    def __init__(self, path: str | os.PathLike, role: str = "meta-train", timeout: float = 120.0,
                 readonly: bool = False):
        if role not in ROLES:
            raise StoreError(f"store role must be one of {ROLES}, got {role!r}")
        self.path, self.readonly, self.timeout = Path(path), readonly, timeout
        if readonly and not self.path.is_file():
            raise StoreError(f"store {self.path} does not exist: collect it first (python -m metad2a.collect) "
                             "or pass the right path")
        if not readonly:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = _connect(self.path, timeout, readonly)
        try:
            self.version = _retry(self._stored_version, timeout)
            if self.version == 0 and not readonly:
                _retry(lambda: self._create(role), timeout)
                self.version = SCHEMA_VERSION
            self._check(role)
        except BaseException:
            self.con.close()
            raise
        self.role = role

    def _stored_version(self) -> int:
        """The file's schema version: user_version, 1 for files that predate it, 0 when empty."""
        v = self.con.execute("PRAGMA user_version").fetchone()[0]
        if v:
            return v
        names = {r[0] for r in self.con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return 1 if "records" in names else (0 if not names else -1)

    def _create(self, role: str) -> None:
        with _Txn(self.con):
            if self._stored_version() != 0:  # another process created it meanwhile
                return
            for stmt in _statements(_SCHEMA):  # not executescript: it would COMMIT mid-transaction
                self.con.execute(stmt)
            self.con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self.con.execute("INSERT OR IGNORE INTO meta VALUES ('role', ?)", (json.dumps(role),))
            self.con.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def _check(self, role: str) -> None:
        if self.version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} has store schema v{self.version}, newer than this metad2a reads "
                             f"(v{SCHEMA_VERSION}): upgrade metad2a to use it")
        if self.version == 0:
            raise EmptyStoreError(f"{self.path} holds no store yet: collect into it first "
                                  "(python -m metad2a.collect) or pass the right path")
        if self.version < 1:
            raise StoreError(f"{self.path} is not a metad2a store: pass a file written by metad2a.collect")
        stored = self.get_meta("role")
        if stored != role:
            raise StoreError(f"{self.path} is a {stored} store, opened as {role}: "
                             f"open it with role={stored!r} or use another file")

    # -- plumbing
    @contextmanager
    def _write(self) -> Iterator[None]:
        """One atomic write; the first one on an older store migrates it in the same transaction."""
        if self.readonly:
            raise StoreError(f"{self.path} was opened read-only: open it with readonly=False to write")
        with _Txn(self.con):
            if self.version < SCHEMA_VERSION:
                self._migrate()
            yield

    def _migrate(self) -> None:
        v = self._stored_version()  # another process may have migrated since we opened
        for to in range(v + 1, SCHEMA_VERSION + 1):
            for stmt in _statements(_MIGRATIONS[to]):
                self.con.execute(stmt)
        self.con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        self.con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        self.version = SCHEMA_VERSION

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- metadata
    def set_meta(self, key: str, value) -> bool:
        """Store a JSON-serialisable value under ``key``; returns False (and writes nothing) if unchanged."""
        text = json.dumps(value, sort_keys=True)
        row = self.con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row and row[0] == text:
            return False
        with self._write():
            self.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, text))
        return True

    def get_meta(self, key: str, default=None):
        row = self.con.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def meta(self) -> dict:
        return {k: json.loads(v) for k, v in self.con.execute("SELECT key, value FROM meta")}

    # -- tasks and recipes
    def check_tasks(self, specs: Iterable[TaskSpec]) -> list[TaskSpec]:
        """Check ``specs`` against this store's role and stored tasks; return those not stored yet.

        Only reads. A different spec under a stored task id is an error.
        """
        specs = list(specs)
        if self.role == "meta-train":
            check_meta_train(specs)
        elif not all(s.meta_test for s in specs):
            raise StoreError(f"{self.path} is a meta-test store: only meta-test tasks go in it")
        stored = dict(self.con.execute("SELECT task_id, spec FROM tasks"))
        for s in specs:
            if s.task_id in stored and stored[s.task_id] != s.to_json():
                raise StoreError(f"task {s.task_id} already in {self.path} with a different spec: "
                                 "use a new task id (or a new store) for changed tasks")
        return [s for s in specs if s.task_id not in stored]

    def add_tasks(self, specs: Iterable[TaskSpec]) -> None:
        """Register task specs (idempotent; writes only new ones). A different spec under an existing id is an error."""
        new = self.check_tasks(specs)
        if not new:
            return
        with self._write():
            self.check_tasks(new)  # again inside the lock: another worker may have added them meanwhile
            for s in new:
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
        if not self.con.execute("SELECT 1 FROM recipes WHERE recipe_hash = ?", (h,)).fetchone():
            with self._write():
                self.con.execute("INSERT OR IGNORE INTO recipes VALUES (?, ?)", (h, canonical_json(recipe)))
        return h

    def recipes(self) -> dict[str, dict]:
        return {h: json.loads(s) for h, s in self.con.execute("SELECT recipe_hash, spec FROM recipes")}

    # -- records
    def add_record(self, task_id: str, record: dict) -> bool:
        """Insert one training result (a ``train_cell`` dict) in its own transaction.

        Returns False when the key (task_id, arch, seed, recipe_hash) was already stored: the
        existing record is kept (INSERT OR IGNORE), so re-running work is harmless. Any claim
        on the key is dropped in the same transaction.
        """
        row = {"task_id": task_id, "host": socket.gethostname(), "created": time.time(),
               **{c: None for c in _OPTIONAL}, **{k: record[k] for k in record if k in RECORD_COLUMNS}}
        missing = [c for c in RECORD_COLUMNS if c not in row]
        if missing:
            raise StoreError(f"record for {task_id} lacks {missing}: pass the dict train_cell returns")
        if row["eval_epochs"] is not None:
            if len(row["eval_epochs"]) != len(row["test_acc"]):
                raise StoreError(f"record for {task_id}: {len(row['eval_epochs'])} eval_epochs for "
                                 f"{len(row['test_acc'])} test scores: pass the dict train_cell returns")
            row["eval_epochs"] = json.dumps([int(e) for e in row["eval_epochs"]])
        for k in _JSON_COLUMNS:
            row[k] = json.dumps([round(float(v), 5) for v in row[k]])
        with self._write():
            cur = self.con.execute(
                f"INSERT OR IGNORE INTO records ({', '.join(RECORD_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(RECORD_COLUMNS))})", [row[c] for c in RECORD_COLUMNS])
            self.con.execute(f"DELETE FROM claims WHERE {_KEY_WHERE}",
                             (task_id, row["arch"], row["seed"], row["recipe_hash"]))
        return cur.rowcount == 1

    def add_records(self, rows: Iterable[dict]) -> int:
        """Insert many complete rows (every ``RECORD_COLUMNS`` key) in one transaction; returns rows added.

        For bulk imports (e.g. a published table); training results go through ``add_record``.
        """
        data = []
        for row in rows:
            row = {**{c: None for c in _OPTIONAL}, **row}
            missing = [c for c in RECORD_COLUMNS if c not in row]
            if missing:
                raise StoreError(f"row for {row.get('task_id')} lacks {missing}")
            data.append([json.dumps(row[c]) if c in _JSON_COLUMNS or (c == "eval_epochs" and row[c] is not None)
                         else row[c] for c in RECORD_COLUMNS])
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

    def _record_columns(self) -> list[str]:
        """RECORD_COLUMNS as SELECT expressions; columns an older file lacks read as NULL."""
        have = {r[1] for r in self.con.execute("PRAGMA table_info(records)")}
        return [c if c in have else f"NULL AS {c}" for c in RECORD_COLUMNS]

    def records(self, task_id: str | None = None, recipe_hash: str | None = None) -> Iterator[dict]:
        """Records as dicts (JSON columns decoded; eval_epochs None when every epoch), in insertion order."""
        where, args = [], []
        for col, val in (("task_id", task_id), ("recipe_hash", recipe_hash)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        q = f"SELECT {', '.join(self._record_columns())} FROM records"
        q += f" WHERE {' AND '.join(where)}" if where else ""
        for r in self.con.execute(q + " ORDER BY id", args):
            d = dict(zip(RECORD_COLUMNS, r))
            for k in (*_JSON_COLUMNS, "eval_epochs"):
                d[k] = json.loads(d[k]) if d[k] is not None else None
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

    # -- claims (see the module docstring)
    def claim(self, key: Key, owner: str, lease_s: float) -> str:
        """Try to take the job ``key`` for ``owner`` for ``lease_s`` seconds.

        Returns CLAIMED (train it), STORED (its record exists) or BUSY (another owner's lease
        is live). An expired lease, a dead owner's, or one ``owner`` already holds is taken over.
        """
        task_id, arch, seed, h = key
        key = (task_id, arch, int(seed), h)
        now = time.time()
        with self._write():
            if self.con.execute(f"SELECT 1 FROM records WHERE {_KEY_WHERE}", key).fetchone():
                return STORED
            row = self.con.execute(f"SELECT owner, expires FROM claims WHERE {_KEY_WHERE}", key).fetchone()
            if row and row[0] != owner and row[1] > now and not _owner_gone(row[0]):
                return BUSY
            self.con.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?, ?)", (*key, owner, now + lease_s))
        return CLAIMED

    def renew(self, owner: str, lease_s: float) -> int:
        """Extend every claim of ``owner`` to ``lease_s`` from now; returns how many."""
        with self._write():
            return self.con.execute("UPDATE claims SET expires = ? WHERE owner = ?",
                                    (time.time() + lease_s, owner)).rowcount

    def release(self, owner: str) -> int:
        """Drop every claim of ``owner`` (its jobs become claimable at once); returns how many."""
        if not self.con.execute("SELECT 1 FROM claims WHERE owner = ? LIMIT 1", (owner,)).fetchone():
            return 0
        with self._write():
            return self.con.execute("DELETE FROM claims WHERE owner = ?", (owner,)).rowcount

    def claims(self) -> list[dict]:
        """Current claims, live or expired: {"key", "owner", "expires"} (seconds since the epoch)."""
        if _retry(self._stored_version, self.timeout) < 2:  # a v1 file has no claims table yet
            return []
        q = "SELECT task_id, arch, seed, recipe_hash, owner, expires FROM claims ORDER BY expires"
        return [{"key": (t, a, int(s), h), "owner": o, "expires": e} for t, a, s, h, o, e in self.con.execute(q)]


def new_owner() -> str:
    """A fresh claim owner id, ``host:pid:token``: unique per call, and its pid tells other
    workers on this host when the owner has died."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _owner_gone(owner: str) -> bool:
    """Whether ``owner`` (a ``new_owner`` id) is a process of this host that no longer runs."""
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False  # another host (or a foreign id): only its lease's expiry tells
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


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
    ``dst``'s role, and a task id must mean the same spec everywhere. Shards are only read;
    claims are not copied (they belong to the workers of the shard's own machine).
    """
    if not shards:
        raise StoreError("merge needs at least one shard: merge DST SHARD [SHARD ...]")
    role = _role_of(shards[0])
    added = 0
    with Store(dst, role=role) as out:
        for shard in shards:
            if Path(shard).resolve() == out.path.resolve():
                continue
            with Store(shard, role=role, readonly=True) as src:
                out.add_tasks(src.tasks())
                with out._write():
                    for h, spec in src.con.execute("SELECT recipe_hash, spec FROM recipes"):
                        out.con.execute("INSERT OR IGNORE INTO recipes VALUES (?, ?)", (h, spec))
                    for k, v in src.con.execute("SELECT key, value FROM meta"):
                        out.con.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (k, v))
                    before = out.count()
                    rows = src.con.execute(f"SELECT {', '.join(src._record_columns())} FROM records ORDER BY id")
                    out.con.executemany(f"INSERT OR IGNORE INTO records ({', '.join(RECORD_COLUMNS)}) "
                                        f"VALUES ({', '.join('?' * len(RECORD_COLUMNS))})", rows.fetchall())
                    added += out.count() - before
    return added


def _role_of(path: str | os.PathLike) -> str:
    """The role recorded in an existing store file."""
    if not Path(path).is_file():
        raise StoreError(f"shard {path} does not exist: pass existing .sqlite files to merge")
    con = _connect(Path(path), 60.0, readonly=True)
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'role'").fetchone()
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{path} is not a metad2a store ({e}): pass files written by metad2a.collect") from e
    finally:
        con.close()
    if not row:
        raise StoreError(f"{path} has no role: it was not written by metad2a.collect")
    return json.loads(row[0])
