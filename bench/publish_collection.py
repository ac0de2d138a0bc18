"""Copy the working record stores of a running collection into meta_data/, consistently.

    python bench/publish_collection.py /work/collect            # -> meta_data/meta-train.sqlite, meta-test.sqlite

A long collection writes to a working folder outside the repository (``db=/work/collect/...``),
so the committed stores change only when published, and the checkpoints trained on a published
snapshot keep matching it while the collection goes on. SQLite's online backup copies a
consistent state even while workers write.
"""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path

from metad2a.meta_data import meta_data_dir


def publish(src_dir: Path, dst_dir: Path) -> dict[str, int]:
    """Back up every ``*.sqlite`` of ``src_dir`` into ``dst_dir``; returns records per file."""
    out = {}
    for src in sorted(src_dir.glob("*.sqlite")):
        dst = dst_dir / src.name
        tmp = dst.with_name(dst.name + ".tmp")
        tmp.unlink(missing_ok=True)
        with sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=120) as a, sqlite3.connect(tmp) as b:
            a.backup(b)
            b.execute("PRAGMA journal_mode = DELETE")  # a single self-contained file
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
    a = ap.parse_args()
    print(publish(a.src, a.dst))


if __name__ == "__main__":
    main()
