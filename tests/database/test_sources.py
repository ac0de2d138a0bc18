"""Database v2: array sources (the five domains, CIFAR-100), task descriptors, the NB201 import."""

import numpy as np
import pytest

from metad2a.collect import plan_tasks
from metad2a.database.nb201_import import NB201_IN16, NB201_TASK_ID, import_nb201_table, nb201_task
from metad2a.database.store import Store
from metad2a.database.tasks import (
    DOMAIN_SOURCES,
    NPZ_SOURCES,
    MetaTestLeakError,
    TaskSpec,
    load_task_images,
    make_source_tasks,
    meta_test_tasks,
)
from metad2a.errors import DataError
from metad2a.recipe import MINI, recipe_hash

ARCHS = ["|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
         "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
         "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"]


def fake_root(tmp_path, source, x, y, names=None):
    """A shared-data folder holding one array source at its real relative path."""
    path = tmp_path / NPZ_SOURCES[source]
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"x": x, "y": y} | ({"class_names": np.array(names)} if names is not None else {})
    np.savez(path, **arrays)
    return tmp_path


def grey_digits(classes=4, per_class=10, size=28):
    """Class c: a grey square of brightness 40 + 50 c (so labels can be checked from pixels)."""
    y = np.repeat(np.arange(classes), per_class)
    x = np.broadcast_to((40 + 50 * y)[:, None, None], (len(y), size, size)).astype(np.uint8)
    return np.ascontiguousarray(x), y.astype(np.int64)


def test_domain_loader_splits_a_class_subset_and_relabels_it_in_spec_order(tmp_path):
    x, y = grey_digits()
    root = fake_root(tmp_path, "kannada", x, y, names=["a", "b", "c", "d"])
    spec = TaskSpec("kan2-test", "kannada", ("d", "b"), 6, 3, 0, "train")
    im = load_task_images(spec, 8, root)
    assert im.train_x.shape == (12, 8, 8, 3) and im.test_x.shape == (6, 8, 8, 3)
    assert sorted(np.bincount(im.train_y)) == [6, 6] and sorted(np.bincount(im.test_y)) == [3, 3]
    # label 0 is class "d" (brightness 190), label 1 is "b" (90); grey is repeated into 3 channels
    assert set(im.train_x[im.train_y == 0].ravel()) == {190} and set(im.test_x[im.test_y == 1].ravel()) == {90}
    train_pixels = {im.train_x[i].tobytes() + bytes([i]) for i in range(len(im.train_x))}
    assert len(train_pixels) == 12


def test_domain_loader_without_class_names_numbers_the_classes(tmp_path):
    x, y = grey_digits(classes=3)
    root = fake_root(tmp_path, "notmnist", x, y)
    tasks = make_source_tasks("notmnist", 2, [2, 3], [4], 2, classes=["class_0", "class_1", "class_2"])
    im = load_task_images(tasks[1], 8, root)
    assert tasks[1].classes == ("class_0", "class_1", "class_2") and im.train_y.max() == 2
    with pytest.raises(DataError, match="not in notmnist"):
        load_task_images(TaskSpec("bad", "notmnist", ("class_0", "zebra"), 2, 2, 0, "train"), 8, root)


def test_rgb_domain_keeps_its_colour(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (20, 28, 28, 3), dtype=np.uint8)
    y = np.repeat(np.arange(2), 10)
    root = fake_root(tmp_path, "simpsons", x, y, names=["bart", "lisa"])
    im = load_task_images(TaskSpec("smp", "simpsons", ("bart", "lisa"), 5, 5, 0, "train"), 28, root)
    assert im.train_x.shape[-1] == 3 and not np.array_equal(im.train_x[..., 0], im.train_x[..., 1])


def test_source_tasks_vary_descriptors_and_split_within_each_source():
    names = [f"c{i}" for i in range(12)]
    tasks = make_source_tasks("sign-digits", 6, [2, 5, 10], [50, 150], 50, fractions=(0.7, 0.15, 0.15), classes=names)
    assert [t.num_classes for t in tasks] == [2, 5, 10, 2, 5, 10]
    assert [t.train_per_class for t in tasks] == [50, 50, 50, 150, 150, 150]
    assert sorted(t.split for t in tasks) == ["test", "train", "train", "train", "train", "valid"]
    d = tasks[0].descriptors()
    assert d == {"source": "sign-digits", "num_classes": 2, "train_per_class": 50, "test_per_class": 50,
                 "native_resolution": 64, "channels": 3}
    assert tasks[0].to_dict()["native_resolution"] == 64  # recorded in the stored spec itself
    fewer = make_source_tasks("sign-digits", 3, [2, 5, 10], [50, 150], 50, classes=names)
    assert [(t.task_id, t.classes) for t in fewer] == [(t.task_id, t.classes) for t in tasks[:3]]  # stable prefix
    # ids are unique across sources and say class count and train images
    assert tasks[3].task_id.startswith("sgn2-n150-")


def test_specs_written_before_descriptors_existed_keep_their_json():
    old = TaskSpec("tin20-s0-0001", "tiny-imagenet", ("a", "b"), 100, 100, 0, "train")
    assert "native_resolution" not in old.to_json() and TaskSpec.from_dict(old.to_dict()) == old
    assert old.descriptors()["native_resolution"] == 64  # filled from the source when not recorded


def test_v2_plan_interleaves_sources_round_robin(shared_data):  # tiny-imagenet's class list is shared data
    groups = [{"source": "synthetic", "num": 3, "ks": [2], "train_counts": [4], "test_per_class": 2},
              {"source": "tiny-imagenet", "num": 1, "ks": [2], "train_counts": [4], "test_per_class": 2}]
    tasks = plan_tasks("meta-train", MINI, groups=groups, fractions=(0.4, 0.3, 0.3))
    assert [t.source for t in tasks] == ["synthetic", "tiny-imagenet", "synthetic", "synthetic"]


@pytest.mark.parametrize("source", ["cifar100", "cifar10", "mnist"])
def test_meta_test_sources_never_make_meta_training_tasks(source):
    with pytest.raises(MetaTestLeakError):
        make_source_tasks(source, 2, [2], [10], 10, classes=["a", "b", "c"])


def test_cifar100_is_meta_test_everywhere(tmp_path, shared_data):
    spec = meta_test_tasks(2, 2, datasets=["cifar100"])[0]
    assert spec.meta_test and spec.num_classes == 100 and spec.descriptors()["native_resolution"] == 32
    with pytest.raises(MetaTestLeakError):
        load_task_images(spec, 8)
    with pytest.raises(MetaTestLeakError):
        TaskSpec("c100", "cifar100", ("a", "b"), 2, 2, 0, "train")
    with Store(tmp_path / "mt.sqlite") as s, pytest.raises(MetaTestLeakError):
        s.add_tasks([spec])
    im = load_task_images(spec, 8, meta_test_ok=True)
    assert im.train_x.shape == (200, 8, 8, 3) and np.bincount(im.test_y).tolist() == [2] * 100


def test_nb201_import_adds_one_record_per_cell_once(tmp_path, shared_data):
    table = {a: {"imagenet16_120_test": 10.0 + i, "cifar100_test": 50.0 + i} for i, a in enumerate(ARCHS)}
    with Store(tmp_path / "mt.sqlite") as s:
        assert import_nb201_table(s, table=table) == 3
        assert import_nb201_table(s, table=table) == 0
        recs = list(s.records(NB201_TASK_ID))
        assert {r["arch"]: r["target"] for r in recs} == {a: 10.0 + i for i, a in enumerate(ARCHS)}
        assert {r["recipe_hash"] for r in recs} == {recipe_hash(NB201_IN16)}
        assert s.recipes()[recipe_hash(NB201_IN16)]["name"] == "nb201-200ep"
        spec = s.tasks("train")[0]
        assert spec == nb201_task() and spec.num_classes == 120 and spec.source == "tiny-imagenet"


def test_nb201_import_refuses_the_cifar100_column_and_meta_test_stores(tmp_path):
    table = {ARCHS[0]: {"imagenet16_120_test": 10.0, "cifar100_test": 50.0}}
    with Store(tmp_path / "mt.sqlite") as s:
        with pytest.raises(MetaTestLeakError, match="meta-test truth"):
            import_nb201_table(s, column="cifar100_test", table=table)
        assert s.count() == 0
    with Store(tmp_path / "test.sqlite", role="meta-test") as s, pytest.raises(MetaTestLeakError):
        import_nb201_table(s, table=table)


@pytest.mark.slow
def test_nb201_import_of_the_shared_table_has_every_cell(tmp_path, shared_data):
    with Store(tmp_path / "mt.sqlite") as s:
        assert import_nb201_table(s) == 15_625
        best = s.con.execute("SELECT MAX(target) FROM records").fetchone()[0]
    assert best == pytest.approx(47.31, abs=0.01)  # the ImageNet16-120 oracle


def test_all_domain_files_load(shared_data):
    from metad2a.database.tasks import npz_class_names

    counts = {s: len(npz_class_names(s)) for s in DOMAIN_SOURCES}
    assert counts == {"notmnist": 10, "kannada": 10, "sign-digits": 10, "simpsons": 10, "brain-mri": 4}
