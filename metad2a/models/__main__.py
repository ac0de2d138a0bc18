"""Model-file tools: ``python -m metad2a.models add-cell-table FILE...``.

add-cell-table   compute a predictor checkpoint's cell table from its own weights and store it in
                 the file, in place and atomically (``models/cell_table.py``); train.py writes it
                 itself, this is for checkpoints written before tables existed.
"""

from __future__ import annotations

import argparse
import sys

from metad2a.errors import MetaD2AError
from metad2a.models.checkpoint import add_cell_table


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m metad2a.models", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add-cell-table", help="store a predictor checkpoint's cell table in the file")
    add.add_argument("checkpoints", nargs="+", help="predictor checkpoint files, e.g. meta_data/checkpoints/predictor.pt")
    args = ap.parse_args(argv)
    try:
        for path in args.checkpoints:
            print(f"{path}: cell table {tuple(add_cell_table(path).shape)}")
    except MetaD2AError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
