"""train_best=true: the top cells are trained on the user's images and their test accuracy reported."""

from __future__ import annotations

import json

from metad2a.generation.app import generate, generate_main
from metad2a.generation.report import TrainedCell
from metad2a.generation.train_best import train_top_cells
from metad2a.recipe import MINI
from tests.generation.conftest import gen_config, make_folder

CELL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def test_train_top_cells_splits_per_class_and_is_seeded(tmp_path):
    data = make_folder(tmp_path / "ds", classes=2, per_class=6)
    tiny = MINI.with_(epochs=2, target_last_k=1, train_per_class=4, test_per_class=2)
    runs = [train_top_cells([CELL], str(data), tiny, seed=0, progress=False) for _ in range(2)]
    (trained, info), (again, _) = runs
    assert info["train_images"] == 8 and info["test_images"] == 4 and info["recipe"] == "mini"
    assert len(trained) == 1 and isinstance(trained[0], TrainedCell) and trained[0].arch == CELL
    assert 0.0 <= trained[0].test_accuracy <= 100.0 and trained[0].wall_s > 0
    assert trained[0].test_accuracy == again[0].test_accuracy  # same seed, same split, same training


def test_train_best_through_generate_reports_accuracy_in_json_and_table(tmp_path, capsys):
    data = make_folder(tmp_path / "ds", classes=3, per_class=6)
    cfg = gen_config(tmp_path, f"data.path={data}", "top_k=3", "num_samples=10", "train_best=true", "train_best_k=2")
    assert generate_main(cfg) == 0
    printed = capsys.readouterr().out
    doc = json.loads((tmp_path / "out" / "generate.json").read_text())
    assert [t["arch"] for t in doc["trained"]] == [r["arch"] for r in doc["ranked"][:2]]
    for t in doc["trained"]:
        assert set(t) == {"arch", "test_accuracy", "final_accuracy", "wall_s"} and 0 <= t["test_accuracy"] <= 100
    # 6 images per class < 100 + 100: split proportionally (3 train / 3 test per class)
    assert doc["train"]["recipe"] == "mini" and doc["train"]["train_images"] + doc["train"]["test_images"] == 18
    assert "train_best" in doc["timings_s"]
    assert "test acc" in printed and f"{doc['trained'][0]['test_accuracy']:.2f}" in printed


def test_train_best_off_by_default(tmp_path):
    data = make_folder(tmp_path / "ds", classes=2, per_class=3)
    r = generate(gen_config(tmp_path, f"data.path={data}", "top_k=2", "num_samples=4")).result
    assert r.trained == [] and "train_best" not in r.timings_s
