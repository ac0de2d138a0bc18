"""Bad input to generate: one ``error:`` line (no traceback), or a warning and a run on what is usable.

Most cases call ``generate_main`` in-process (fast); two run ``generate.py`` in a subprocess to
check that what the user sees is really one line.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from metad2a.generation.app import generate, generate_main
from tests.conftest import run_within, unblock_fifo
from tests.generation.conftest import REPO, gen_config, make_folder


def one_error_line(capsys, cfg) -> str:
    """Run generate_main; assert exit code 2 and exactly one stderr line; return it."""
    rc = generate_main(cfg)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert err[0].startswith("error: ") and "Traceback" not in err[0]
    return err[0]


# ---------------------------------------------------------------- unusable data: error

def _empty(root: Path) -> Path:
    root.mkdir()
    return root


def _single_class(root: Path) -> Path:
    return make_folder(root, classes=1, per_class=3)


def _only_non_images(root: Path) -> Path:
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        (root / c / "notes.txt").write_text("not an image")
    return root


def _all_corrupt_but_one_class(root: Path) -> Path:
    make_folder(root, classes=2, per_class=2)
    for f in (root / "c1").iterdir():
        f.write_bytes(b"\x89PNG\r\n garbage")
    return root


def _loose_images(root: Path) -> Path:
    root.mkdir()
    Image.new("RGB", (8, 8)).save(root / "x.png")
    return root


@pytest.mark.parametrize("build,message", [
    (lambda r: r / "missing", "does not exist"),
    (_empty, "no class sub-folders in"),
    (_loose_images, "1 images lie directly in it"),
    (_single_class, "only one class ('c0')"),
    (_only_non_images, "no images found in"),
    (_all_corrupt_but_one_class, "only one class ('c0')"),
])
def test_unusable_data_is_one_line(tmp_path, capsys, build, message):
    data = build(tmp_path / "ds")
    line = one_error_line(capsys, gen_config(tmp_path, f"data.path={data}"))
    assert message in line


def test_empty_npz_and_wrong_format_files(tmp_path, capsys):
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    assert "is not an npz archive" in one_error_line(capsys, gen_config(tmp_path, f"data.path={tmp_path / 'junk.npz'}"))
    (tmp_path / "notes.txt").write_text("hi")
    line = one_error_line(capsys, gen_config(tmp_path, f"data.path={tmp_path / 'notes.txt'}"))
    assert "cannot tell the format" in line


def _nan_npz(root: Path) -> Path:
    root.mkdir()
    x = np.zeros((4, 8, 8), np.float32)
    x[2, 3, 3] = np.nan
    np.savez(root / "x.npz", x=x, y=[0, 0, 1, 1])
    return root / "x.npz"


def _text_as_npz(root: Path) -> Path:
    root.mkdir()
    (root / "notes.npz").write_text("not an archive")
    return root / "notes.npz"


def _dangling(root: Path) -> Path:
    root.mkdir()
    (root / "link").symlink_to(root / "moved_away")
    return root / "link"


@pytest.mark.parametrize("build,overrides,message", [
    (_single_class, [], "only one class ('c0')"),
    (_all_corrupt_but_one_class, [], "only one class ('c0')"),
    (_nan_npz, [], "1 of 4 images hold NaN or infinite pixels"),
    (_text_as_npz, ["data.format=npz"], "is not an npz archive"),
    (_dangling, [], "is a dangling symbolic link"),
    (lambda r: make_folder(r, classes=2, per_class=1), ["train_best=true"], "train_best needs at least 2 images"),
], ids=["single-class", "corrupt-class", "nan-npz", "not-npz", "dangling-link", "train-best-one-per-class"])
def test_bad_data_is_refused_before_the_checkpoints_load(tmp_path, capsys, monkeypatch, build, overrides, message):
    """Nothing slow (checkpoints, backbone, ranking) runs before the data is known to be usable."""
    def too_early(*args, **kwargs):
        raise AssertionError("checkpoints loaded before the data was checked")

    monkeypatch.setattr("metad2a.generation.app.build_components", too_early)
    data = build(tmp_path / "ds")
    line = one_error_line(capsys, gen_config(tmp_path, f"data.path={data}", *overrides))
    assert message in line and "allow_pickle" not in line


def test_train_best_with_one_image_per_class_stops_before_ranking(tmp_path, capsys, monkeypatch):
    calls = []
    monkeypatch.setattr("metad2a.generation.app.run_generation", lambda *a, **k: calls.append(1))
    data = make_folder(tmp_path / "ds", classes=3, per_class=2)
    (data / "c1" / "1.png").unlink()
    line = one_error_line(capsys, gen_config(tmp_path, f"data.path={data}", "train_best=true"))
    assert "train_best needs at least 2 images per class" in line and "c1 has fewer" in line and not calls


# ---------------------------------------------------------------- odd but usable data: warn and run

def test_few_images_per_class_warn_then_use_what_there_is(tmp_path, caplog):
    data = make_folder(tmp_path / "ds", classes=3, per_class=2)
    with caplog.at_level(logging.WARNING):
        r = generate(gen_config(tmp_path, f"data.path={data}", "top_k=2", "num_samples=4")).result
    assert r.dataset["images_used"] == 6  # 20 per class asked, 2 there
    assert "3 classes have fewer than 20 images" in caplog.text


def test_corrupt_and_non_image_files_are_skipped_and_counted(tmp_path, caplog, capsys):
    data = make_folder(tmp_path / "ds", classes=2, per_class=4)
    (data / "c0" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    good = (data / "c1" / "0.png").read_bytes()
    (data / "c1" / "truncated.png").write_bytes(good[: len(good) // 2])
    (data / "c0" / "notes.txt").write_text("hello")
    (data / "c1" / "labels.csv").write_text("a,b")
    with caplog.at_level(logging.WARNING):
        rc = generate_main(gen_config(tmp_path, f"data.path={data}", "top_k=2", "num_samples=4"))
    assert rc == 0
    assert "4 files skipped (2 corrupt, 2 non-image)" in capsys.readouterr().out
    assert "skipped 2 corrupt or unreadable" in caplog.text and "skipped 2 non-image files" in caplog.text


def test_links_and_special_files_are_skipped_and_counted(tmp_path, capsys):
    data = make_folder(tmp_path / "ds", classes=2, per_class=3)
    (data / "all").symlink_to(".")  # would be a class mixing every image
    os.mkfifo(data / "c0" / "pipe.jpg")  # would block the decoder forever
    try:
        cfg = gen_config(tmp_path, f"data.path={data}", "top_k=2", "num_samples=4")
        rc = run_within(120, lambda: generate_main(cfg))
    finally:
        unblock_fifo(data / "c0" / "pipe.jpg")
    out = capsys.readouterr().out
    assert rc == 0 and "ds: 2 classes, 6 images used, 2 files skipped (1 linked, 1 special)" in out
    doc = json.loads((tmp_path / "out" / "generate.json").read_text())
    assert doc["dataset"]["class_names"] == ["c0", "c1"]
    assert doc["skipped_files"] == {"corrupt": 0, "non_image": 0, "too_large": 0, "linked": 1, "special": 1}


def _save(img: Image.Image, path: Path, **kw) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **kw)


def test_odd_image_modes_and_sizes_are_used(tmp_path, caplog):
    """Grayscale, RGBA, CMYK, 16-bit, palette, a big JPEG (drafted down) load; a too-large PNG is skipped."""
    d = tmp_path / "ds"
    _save(Image.new("L", (20, 20), 100), d / "a" / "gray.png")
    _save(Image.new("RGBA", (20, 20), (255, 0, 0, 10)), d / "a" / "rgba.png")
    _save(Image.new("CMYK", (20, 20), (0, 255, 255, 0)), d / "a" / "cmyk.jpg")
    _save(Image.fromarray(np.full((20, 20), 40000, dtype=np.uint16)), d / "b" / "i16.png")
    _save(Image.new("RGB", (20, 20), (0, 90, 0)).convert("P", palette=Image.Palette.ADAPTIVE), d / "b" / "pal.gif")
    _save(Image.new("RGB", (3000, 2000), (0, 0, 200)), d / "b" / "big.jpg", quality=70)  # 6 MP, decoded at 1/8
    _save(Image.new("RGB", (1500, 1000)), d / "b" / "huge.png")  # 1.5 MP > the 1 MP limit below
    with caplog.at_level(logging.WARNING):
        r = generate(gen_config(tmp_path, f"data.path={d}", "data.max_pixels=1000000", "top_k=2",
                                "num_samples=4")).result
    assert r.dataset["num_classes"] == 2 and r.dataset["images_used"] == 6
    assert r.skipped_files == {"corrupt": 0, "non_image": 0, "too_large": 1, "linked": 0, "special": 0}
    assert "larger than 1 megapixels" in caplog.text


# ---------------------------------------------------------------- checkpoints: say how to get them

def test_missing_checkpoints_say_how_to_rebuild(tmp_path, capsys, monkeypatch):
    data = make_folder(tmp_path / "ds", classes=2, per_class=2)
    monkeypatch.setenv("METAD2A_META_DATA", str(tmp_path / "nowhere"))
    line = one_error_line(capsys, gen_config(tmp_path, f"data.path={data}"))
    assert "no checkpoint at" in line and "predictor.pt" in line and "python train.py" in line
    line = one_error_line(capsys, gen_config(tmp_path, f"data.path={data}", "predictor=agnostic"))
    assert "predictor_agnostic.pt" in line and "python train.py" in line


def test_missing_generator_checkpoint(tmp_path, capsys, meta_data):
    data = make_folder(tmp_path / "ds", classes=2, per_class=2)
    line = one_error_line(capsys, gen_config(tmp_path, f"data.path={data}",
                                             f"generator_checkpoint={tmp_path / 'gen.pt'}"))
    assert "gen.pt" in line and "python train.py" in line


def test_incompatible_checkpoints(tmp_path, capsys, meta_data):
    data = make_folder(tmp_path / "ds", classes=2, per_class=2)
    (tmp_path / "junk.pt").write_bytes(b"definitely not a torch file")
    junk = tmp_path / "junk.pt"
    line = one_error_line(capsys, gen_config(tmp_path, f"data.path={data}", f"predictor.checkpoint={junk}"))
    assert "is not a readable metad2a checkpoint" in line and "python train.py" in line
    swapped = meta_data / "checkpoints" / "predictor.pt"
    line = one_error_line(capsys, gen_config(tmp_path, f"data.path={data}", f"generator_checkpoint={swapped}"))
    assert "holds a 'predictor' checkpoint, expected 'generator'" in line


def test_checkpoint_for_other_features_is_refused(tmp_path, capsys):
    """A checkpoint trained on 8-d features cannot read EfficientNet-Lite0's 1280-d ones."""
    from metad2a.models import ModelConfig
    from metad2a.training.config import TrainerConfig
    from metad2a.training.meta_train import meta_train
    from metad2a.training.synthetic import make_synthetic_tasks

    tasks = make_synthetic_tasks(num_tasks=5, feat_dim=8, num_classes=(2, 3), samples_per_class=2, cells_per_task=4)
    meta_train(tasks, ModelConfig(feat_dim=8, hidden_dim=8, latent_dim=4, heads=2, num_inducing=2, gnn_layers=1),
               TrainerConfig(epochs=1, batch_tasks=4, unlabelled_cells=4, resume=False, train_generator=False,
                             train_agnostic=False), tmp_path / "ck")
    data = make_folder(tmp_path / "ds", classes=2, per_class=2)
    line = one_error_line(capsys, gen_config(tmp_path, f"data.path={data}", "search=exhaustive",
                                             f"predictor.checkpoint={tmp_path / 'ck' / 'predictor.pt'}"))
    assert "expects 8-d features but efficientnet_lite0 makes 1280-d ones" in line and "python train.py" in line


# ---------------------------------------------------------------- conflicting or out-of-range options

@pytest.mark.parametrize("overrides,message", [
    (["search=exhaustive", "num_samples=50"], "num_samples=50 conflicts with search=exhaustive"),
    (["top_k=30", "num_samples=20"], "top_k: 30 is more than the 20 cells sampled"),
    (["top_k=101"], "top_k: 101 is more than the 100 cells sampled"),
    (["search=exhaustive", "top_k=7000"], "more than the 6,466 unique cells"),
    (["search=everything"], "unknown search 'everything'"),
    (["top_k=0"], "top_k: must be a positive integer"),
    (["data.images_per_class=0"], "data.images_per_class: must be a positive integer"),
    (["num_samples=0"], "num_samples: must be a positive integer"),
    (["temperature=0"], "temperature: must be > 0"),
    (["data.format=npz"], "is a folder: pass the .npz file itself"),
    (["data.format=jpeg"], "unknown format 'jpeg'"),
    (["data.path=''"], "data: is empty"),
    (["train_best=true", "train_recipe=fast"], "unknown recipe 'fast'"),
    (["train_best=true", "train_best_k=11"], "train_best_k: must be between 1 and top_k=10"),
    (["predictor=naswot", "search=exhaustive"], "add allow_slow=true"),
    (["predictor=ensemble", "search=exhaustive",
      "predictor.members=[{_target_: metad2a.predictors.naswot.NASWOTScorer}]"], "add allow_slow=true"),
])
def test_conflicting_options_are_one_line(tmp_path, capsys, overrides, message):
    data = make_folder(tmp_path / "ds", classes=2, per_class=2)
    assert message in one_error_line(capsys, gen_config(tmp_path, f"data.path={data}", *overrides))


def test_format_that_does_not_match_a_file(tmp_path, capsys):
    np.savez(tmp_path / "x.npz", x=np.zeros((4, 8, 8), np.uint8), y=np.array([0, 0, 1, 1]))
    assert "is a file: pass the folder" in one_error_line(
        capsys, gen_config(tmp_path, f"data.path={tmp_path / 'x.npz'}", "data.format=folder"))
    assert "is an .npz file: use data.format=npz" in one_error_line(
        capsys, gen_config(tmp_path, f"data.path={tmp_path / 'x.npz'}", "data.format=idx"))
    assert "data.format: idx needs data=<path>" in one_error_line(capsys, gen_config(tmp_path, "data.format=idx"))


def test_unwritable_output(tmp_path, capsys):
    data = make_folder(tmp_path / "ds", classes=2, per_class=2)
    (tmp_path / "file").write_text("x")
    line = one_error_line(capsys, gen_config(tmp_path, f"data.path={data}", "top_k=2", "num_samples=4",
                                             f"output={tmp_path / 'file' / 'r.json'}"))
    assert "cannot write the results" in line and "output=" in line


# ---------------------------------------------------------------- what the user really sees

@pytest.mark.parametrize("args,env_dir,message", [
    (["data=/no/such/folder"], None, "/no/such/folder does not exist"),
    ([], "nowhere", "no checkpoint at"),
])
def test_script_prints_one_line_without_traceback(tmp_path, meta_data, args, env_dir, message):
    env = {**os.environ, "METAD2A_CACHE": str(tmp_path / "cache"),
           "METAD2A_META_DATA": str(tmp_path / env_dir if env_dir else meta_data)}
    make_folder(tmp_path / "ds", classes=2, per_class=2)
    args = args or [f"data={tmp_path / 'ds'}"]
    out = subprocess.run([sys.executable, str(REPO / "generate.py"), *args], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300, env=env)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], out.stderr
