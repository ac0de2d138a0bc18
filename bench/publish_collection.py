"""Copy the working record stores of a running collection into meta_data/, consistently.

    python bench/publish_collection.py /work/collect            # -> meta_data/meta-train.sqlite, meta-test.sqlite
    python bench/publish_collection.py /work/collect --dst meta_data/collecting --own-runs
        # the runs collected so far, without the imported NB201 table (a few hundred kB), kept
        # beside the shipped snapshot so a stop loses no CPU work; the next working store starts
        # from it: python -m metad2a.database merge /work/collect/meta-train.sqlite meta_data/collecting/meta-train.sqlite

A long collection writes to a working folder outside the repository (``db=/work/collect/...``),
so the committed stores change only when published, and the checkpoints trained on a published
snapshot keep matching it while the collection goes on. SQLite's online backup copies a
consistent state even while workers write.
"""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path

from metad2a.database.nb201_import import NB201_TASK_ID
from metad2a.meta_data import meta_data_dir


def publish(src_dir: Path, dst_dir: Path, own_runs: bool = False) -> dict[str, int]:
    """Back up every ``*.sqlite`` of ``src_dir`` into ``dst_dir``; returns records per file.

    own_runs: leave out the records of the imported NB201 task (they are rebuilt by the import).
    """
    out = {}
    dst_dir.mkdir(parents=True, exist_ok=True)
    for src in sorted(src_dir.glob("*.sqlite")):
        dst = dst_dir / src.name
        tmp = dst.with_name(dst.name + ".tmp")
        tmp.unlink(missing_ok=True)
        with sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=120) as a, sqlite3.connect(tmp) as b:
            a.backup(b)
            b.execute("PRAGMA journal_mode = DELETE")  # a single self-contained file
            if own_runs:
                b.execute("DELETE FROM records WHERE task_id = ?", (NB201_TASK_ID,))
                b.commit()
                b.execute("VACUUM")
            out[src.name] = b.execute("SELECT COUNT(*) FROM records").fetchone()[0]
            ok = b.execute("PRAGMA integrity_check").fetchone()[0]
        if ok != "ok":
            raise SystemExit(f"error: integrity_check of the copy of {src} says {ok!r}: not published")
        tmp.replace(dst)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path, help="the collection's working folder")
    ap.add_argument("--dst", type=Path, default=meta_data_dir())
    ap.add_argument("--own-runs", action="store_true", help="leave out the imported NB201 table's records")
    a = ap.parse_args()
    print(publish(a.src, a.dst, a.own_runs))


if __name__ == "__main__":
    main()
