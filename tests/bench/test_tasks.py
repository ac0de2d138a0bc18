"""Where benchmark tasks come from: truth tables, held-out domains and their checkpoints, task names."""

import pytest

from metad2a.bench.app import load_tasks
from metad2a.bench.tasks import TruthTable, load_lodo_tasks, load_table_task
from metad2a.errors import DataError, MetaD2AError
from metad2a.space import canonical_form, unique_cells
from tests.bench.conftest import A, A_SAME, B, compose_bench, fake_table_accuracy, full_overrides


def test_a_table_evaluates_one_cell_per_canonical_form():
    table = TruthTable("t", [A_SAME, A, B], [40.0, 41.0, 70.0])
    cells = table.evaluated_cells()
    assert len(cells) == 2 and {canonical_form(c) for c in cells} == {canonical_form(A), canonical_form(B)}
    assert table.index(A) == 1 and table.index(A_SAME) == 0  # each cell's own row first
    with pytest.raises(DataError, match="no row"):
        TruthTable("t", [B], [70.0]).index(A)


def test_the_cifar100_task_from_a_fake_table(tiny_meta_data, fake_shared):
    task = load_table_task("cifar100", tiny_meta_data / "features_meta-test.npz", fake_shared)
    assert task.truth == "nb201-cifar100" and task.seeds == () and task.role == "meta-test"
    assert task.archs == list(unique_cells()) and len(task.population_archs) == 6466
    assert task.accs[5] == pytest.approx(fake_table_accuracy(task.archs[5])[0], abs=1e-4)  # the cifar100 column
    assert task.data.features.shape == (100, 3, 8) and task.recipe.name == "truth"  # NASWOT's C=8, N=2 at 16 px
    with pytest.raises(DataError, match="datasets.table"):
        load_table_task("mnist", tiny_meta_data / "features_meta-test.npz", fake_shared)


def test_a_partial_table_finds_only_its_cells():
    table = TruthTable("t", [A_SAME, B], [40.0, 70.0], complete=False)
    assert table.find(A) == 0 and table.find(B) == 1  # A through its canonical form
    other = "|nor_conv_1x1~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|nor_conv_1x1~0|nor_conv_1x1~1|nor_conv_1x1~2|"
    assert table.find(other) is None
    with pytest.raises(DataError, match="no row"):
        table.index(other)


def test_the_cifar10_task_judged_by_nb201_curves(tmp_path):
    """CIFAR-10's partial table: the last point of each 200-epoch cifar10-valid curve, its cells only."""
    import json

    import numpy as np

    from metad2a.database.features_store import write_feature_file
    from metad2a.database.tasks import CIFAR10_CLASSES

    cells = list(unique_cells()[:5]) + [A_SAME]
    curves = {a: [10.0 + i, 20.0 + i, 60.0 + 3 * i] for i, a in enumerate(cells)}
    rows = ["index,arch,train_acc_curve,valid_acc_curve"]
    rows += [f'{i},{a},"{json.dumps(c)}","{json.dumps(c)}"' for i, (a, c) in enumerate(curves.items())]
    (tmp_path / "nb201").mkdir()
    (tmp_path / "nb201" / "nb201_cifar10_valid_learning_curves_200.csv").write_text("\n".join(rows) + "\n")
    feats = write_feature_file(tmp_path / "f.npz", {("cifar10", c): np.full((3, 8), i, np.float32)
                                                    for i, c in enumerate(CIFAR10_CLASSES)}, {})
    task = load_table_task("cifar10-nb201", feats, tmp_path)
    assert task.name == "cifar10-nb201" and task.truth == "nb201-cifar10-valid" and task.seeds == ()
    assert not task.table.complete and task.population_archs == cells
    assert sorted(task.accs) == [60.0 + 3 * i for i in range(len(cells))]  # the last point of each curve
    assert task.spec.source == "cifar10" and task.spec.train_per_class == 200  # as CIFAR-10's meta-test truth
    assert task.data.features.shape == (10, 3, 8) and task.data.features[9, 0, 0] == 9


def test_a_held_out_domain_without_its_checkpoints_is_skipped_with_a_note(tiny_meta_data, tmp_path):
    db, feats = tiny_meta_data / "meta-train.sqlite", tiny_meta_data / "features_meta-train.npz"
    tasks, notes = load_lodo_tasks(db, feats, ["synthetic"], tiny_meta_data / "lodo")
    assert len(tasks) == 4 and notes == [] and {t.split for t in [x.spec for x in tasks]} == {"train", "test"}
    assert {t.dataset for t in tasks} == {"lodo-synthetic"} and all(t.held_out_source == "synthetic" for t in tasks)
    (tmp_path / "synthetic").mkdir()
    (tmp_path / "synthetic" / "predictor.pt").write_bytes(b"x")
    tasks, notes = load_lodo_tasks(db, feats, ["synthetic", "kannada"], tmp_path)
    assert tasks == [] and len(notes) == 2
    assert "lodo-synthetic: skipped" in notes[0] and "predictor_agnostic.pt, generator.pt" in notes[0]
    (tmp_path / "kannada").mkdir()
    for f in ("predictor.pt", "predictor_agnostic.pt", "generator.pt"):
        (tmp_path / "kannada" / f).write_bytes(b"x")
    tasks, notes = load_lodo_tasks(db, feats, ["kannada"], tmp_path)  # checkpoints, but no records of it
    assert tasks == [] and notes == [f"lodo-kannada: skipped, {db} has no records of kannada tasks yet"]


def test_a_task_in_two_datasets_is_refused(tiny_meta_data, fake_shared):
    cfg = compose_bench(*full_overrides(tiny_meta_data, fake_shared), "datasets.table=[]",
                        f"datasets.within_db={tiny_meta_data}/meta-train.sqlite",
                        f"datasets.within_features={tiny_meta_data}/features_meta-train.npz")
    with pytest.raises(MetaD2AError, match="in both"):
        load_tasks(cfg)


def test_every_kind_of_dataset_in_report_order(tiny_meta_data, fake_shared):
    tasks, notes = load_tasks(compose_bench(*full_overrides(tiny_meta_data, fake_shared)))
    assert [t.dataset for t in tasks] == ["cifar100"] + ["lodo-synthetic"] * 4 + ["synthetic-test"] * 2
    assert notes == [] and tasks[1].checkpoint_dir.endswith("lodo/synthetic") and tasks[-1].checkpoint_dir is None
    assert tasks[0].table is not None and all(t.table is None for t in tasks[1:])


def test_a_leave_one_domain_out_run_trains_on_the_test_split_too(tiny_meta_data):
    from metad2a.training.tasks import load_database_tasks

    db, feats = tiny_meta_data / "meta-train.sqlite", tiny_meta_data / "features_meta-train.npz"
    plain = load_database_tasks(db, feats)
    assert sorted(t.split for t in plain) == ["test", "test", "train", "train"]
    lodo = load_database_tasks(db, feats, train_on=["train", "test"])
    assert [t.split for t in lodo] == ["train"] * 4 and [t.task_id for t in lodo] == [t.task_id for t in plain]
    assert load_database_tasks(db, feats, exclude_sources=["synthetic"], train_on=["train", "test"]) == []
    with pytest.raises(DataError, match="valid tasks select checkpoints"):
        load_database_tasks(db, feats, train_on=["train", "valid"])
    with pytest.raises(DataError, match="no task has"):
        load_database_tasks(db, feats, exclude_sources=["kannada"])


def test_a_cell_still_missing_a_seed_has_no_truth_yet(tiny_meta_data, tmp_path):
    import shutil
    import sqlite3

    from metad2a.bench.tasks import load_bench_tasks

    db = shutil.copy(tiny_meta_data / "v1" / "meta-train.sqlite", tmp_path / "v1.sqlite")
    feats = tiny_meta_data / "v1" / "features_meta-train.npz"
    full = load_bench_tasks(db, feats, "test")[0]
    con = sqlite3.connect(db)
    con.execute("DELETE FROM records WHERE task_id = ? AND arch = ? AND seed = 1", (full.name, full.archs[0]))
    con.commit()
    con.close()
    part = [t for t in load_bench_tasks(db, feats, "test") if t.name == full.name][0]
    assert full.seeds == part.seeds == (0, 1)  # a collection in progress keeps the task's two seeds ...
    assert part.archs == full.archs[1:]        # ... and leaves out the cell that has only one of them
    assert list(part.accs) == list(full.accs[1:])
