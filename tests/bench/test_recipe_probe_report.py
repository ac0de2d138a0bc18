"""bench/recipe_probe.py report: the fidelity table and the chosen recipe's measured fidelity."""

import importlib.util
import json
from argparse import Namespace
from pathlib import Path

from metad2a.recipe import TRUTH, recipe_hash

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("recipe_probe", REPO / "bench" / "recipe_probe.py")
recipe_probe = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(recipe_probe)

ARCHS = [f"cell{i}" for i in range(6)]


def _runs(task_id: str, num_classes: int, recipe: dict, targets: list[float]) -> list[dict]:
    return [{"arch": a, "seed": s, "task_id": task_id, "num_classes": num_classes, "recipe": recipe,
             "recipe_hash": recipe_hash(TRUTH), "target": t + 0.1 * s, "test_acc": [t - 1, t + 0.1 * s],
             "test_loss": [2.0, 1.0], "train_loss": [2.0, 1.5], "final_acc": t, "wall_s": 10.0, "cpu_s": 8.0}
            for s in (0, 1) for a, t in zip(ARCHS, targets)]


def test_report_adds_the_task_size_probe_of_the_same_recipe_to_the_chosen_fidelity(tmp_path, monkeypatch):
    runs_dir = tmp_path / "probe_runs"
    runs_dir.mkdir()
    monkeypatch.setattr(recipe_probe, "RESULTS", tmp_path)
    monkeypatch.setattr(recipe_probe, "RUNS", runs_dir)
    truth = {a: float(i) for i, a in enumerate(ARCHS)}
    monkeypatch.setattr(recipe_probe, "reference_truth", lambda column: truth)
    recipe = TRUTH.to_dict()
    # the chosen config agrees with the references; its CIFAR-10 task-size probe (another name) reverses them
    files = {"truth-b64.fidelity-cifar100": _runs("cifar100", 100, recipe, [1, 2, 3, 4, 5, 6]),
             "truth-b64.fidelity": _runs("imagenet16", 120, recipe, [1, 2, 3, 4, 6, 5]),
             "truth.fidelity-cifar10": _runs("cifar10", 10, recipe, [6, 5, 4, 3, 2, 1])}
    for name, rows in files.items():
        (runs_dir / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    recipe_probe.report(Namespace(choose="truth-b64"))

    chosen = json.loads((tmp_path / "recipe_probe.json").read_text())["chosen"]
    assert chosen["fidelity"]["cifar100"] == 1.0
    assert 0.8 < chosen["fidelity"]["imagenet16_120"] < 1.0
    assert chosen["fidelity"]["cifar10_task"] == -1.0
    assert chosen["fidelity_cells"] == {"cifar100": 6, "imagenet16_120": 6, "cifar10_task": 6}


def test_fidelity_table_has_a_cifar10_task_column_and_images_per_class(tmp_path, monkeypatch):
    runs_dir = tmp_path / "probe_runs"
    runs_dir.mkdir()
    monkeypatch.setattr(recipe_probe, "RUNS", runs_dir)
    monkeypatch.setattr(recipe_probe, "reference_truth", lambda column: {a: float(i) for i, a in enumerate(ARCHS)})
    recipe = {**TRUTH.to_dict(), "train_per_class": 1000}
    rows = _runs("cifar10", 10, recipe, [1, 2, 3, 4, 5, 6])
    (runs_dir / "big.fidelity-cifar10.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    configs = {"big": {"recipe": recipe, "recipe_hash": "x",
                       "fidelity-cifar10": recipe_probe.summarise_fidelity(rows, "cifar10_valid_200")}}

    table = recipe_probe.fidelity_table(configs).splitlines()

    assert "fidelity CIFAR-10 task (cells)" in table[0]
    cols = [c.strip() for c in table[2].split("|")[1:-1]]
    header = [c.strip() for c in table[0].split("|")[1:-1]]
    row = dict(zip(header, cols))
    assert row["train images / class"] == "1000"
    assert row["fidelity CIFAR-10 task (cells)"] == "1.000 (6)"
    assert row["fidelity CIFAR-100 (cells)"] == "— (0)"
