"""bench/lodo.py: checkpoint layout per seed, and the mean over training seeds."""

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("lodo", REPO / "bench" / "lodo.py")
lodo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lodo)


def scores(meta: float, agnostic: float) -> dict:
    row = lambda k: {"kendall": k, "kendall_se": 0.1, "spearman": k + 0.1}  # noqa: E731
    return {"tasks": 3, "cells": 12, "meta": row(meta), "agnostic": row(agnostic), "in16_lookup": row(0.2),
            "meta_minus_agnostic": meta - agnostic}


def test_the_first_seed_keeps_the_benchmarks_layout(tmp_path):
    assert lodo.checkpoint_dir(tmp_path, "kannada", 0, 0) == tmp_path / "kannada"
    assert lodo.checkpoint_dir(tmp_path, "kannada", 1, 0) == tmp_path / "seed1" / "kannada"


def test_seeds_are_averaged_and_their_spread_reported():
    one = lodo.mean_over_seeds([scores(0.4, 0.3)])
    assert one["seeds"] == 1 and "meta_minus_agnostic_sd" not in one
    two = lodo.mean_over_seeds([scores(0.4, 0.3), scores(0.2, 0.3)])
    assert two["seeds"] == 2 and two["meta"]["kendall"] == pytest.approx(0.3)
    assert two["meta_minus_agnostic"] == pytest.approx(0.0) and two["meta_minus_agnostic_sd"] == pytest.approx(0.02 ** 0.5)
    md = lodo.table_md({"domains": {"kannada": two, "simpsons": {"tasks": 0}}})
    assert "| kannada | 3 | 12 | 2 | 0.300 ± 0.100 |" in md and "(sd 0.141)" in md and "| simpsons | 0 |" in md
