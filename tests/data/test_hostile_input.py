"""Input a careful user or a busy machine produces: special files, links, broken archives, odd pixels.

Each case once hung, mixed classes or said the wrong thing; now it is skipped and counted, or
refused with one line that says what the path or file really is.
"""

from __future__ import annotations

import os
import pickle
import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from metad2a.data import decode_image, load_image_folder, load_images, load_npz, to_uint8_nhwc
from metad2a.data.paths import check_data_path
from metad2a.errors import DataError
from tests.conftest import run_within, unblock_fifo


def _folder(root: Path, classes=("cat", "dog"), n: int = 2) -> Path:
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.new("RGB", (8, 8), (40 + 100 * c, 20 * i, 90)).save(root / name / f"{i}.png")
    return root


# ---------------------------------------------------------------- special files inside the folder

def test_fifo_named_like_an_image_is_skipped_not_read(tmp_path):
    root = _folder(tmp_path / "ds")
    fifo = root / "cat" / "stuck.jpg"
    os.mkfifo(fifo)
    try:
        s = run_within(20, lambda: load_image_folder(root, 8))
    finally:
        unblock_fifo(fifo)
    assert len(s) == 4 and s.n_special == 1 and s.n_corrupt == 0
    assert any("named pipes, sockets or devices" in w for w in s.warnings)


def test_socket_named_like_an_image_is_skipped(tmp_path, monkeypatch):
    root = _folder(tmp_path / "ds")
    monkeypatch.chdir(root / "dog")  # AF_UNIX paths are limited to ~100 bytes: bind a short relative one
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind("live.png")
        s = run_within(20, lambda: load_image_folder(root, 8))
    assert len(s) == 4 and s.n_special == 1


# ---------------------------------------------------------------- links are never followed

def test_link_to_the_data_folder_itself_is_not_a_class(tmp_path):
    root = _folder(tmp_path / "ds")
    (root / "everything").symlink_to(".")  # would be a third class holding every image
    (root / "cat" / "again").symlink_to("..")
    s = load_image_folder(root, 8)
    assert s.class_names == ["cat", "dog"] and len(s) == 4 and s.n_linked == 2
    assert any("symbolic links" in w for w in s.warnings)


def test_links_out_of_the_tree_are_skipped(tmp_path):
    root = _folder(tmp_path / "ds")
    outside = _folder(tmp_path / "elsewhere", classes=("bird",), n=3)
    (root / "bird").symlink_to(outside / "bird")
    (root / "cat" / "borrowed.png").symlink_to(outside / "bird" / "0.png")
    s = load_image_folder(root, 8)
    assert s.class_names == ["cat", "dog"] and len(s) == 4 and s.n_linked == 2


def test_a_folder_of_only_links_says_so(tmp_path):
    outside = _folder(tmp_path / "real")
    root = tmp_path / "links"
    root.mkdir()
    for c in ("cat", "dog"):
        (root / c).symlink_to(outside / c)
    with pytest.raises(DataError, match="2 symbolic links not followed") as e:
        load_image_folder(root, 8)
    assert "\n" not in str(e.value)


def test_data_path_that_is_a_link_to_a_folder_is_followed(tmp_path):
    root = _folder(tmp_path / "ds")
    (tmp_path / "current").symlink_to(root)
    assert len(load_images(tmp_path / "current", size=8)) == 4


# ---------------------------------------------------------------- the data path itself

def test_dangling_and_looping_links_say_what_they_are(tmp_path):
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    (tmp_path / "loop_a").symlink_to(tmp_path / "loop_b")
    (tmp_path / "loop_b").symlink_to(tmp_path / "loop_a")
    with pytest.raises(DataError, match="is a dangling symbolic link") as e:
        load_images(tmp_path / "dangling")
    assert "gone" in str(e.value) and "does not exist" in str(e.value)
    with pytest.raises(DataError, match="is a symbolic link that loops"):
        load_images(tmp_path / "loop_a")
    with pytest.raises(DataError, match=r"/missing does not exist"):
        load_images(tmp_path / "missing")


def test_fifo_or_device_as_the_data_path(tmp_path):
    os.mkfifo(tmp_path / "pipe.npz")
    try:
        with pytest.raises(DataError, match=r"is a named pipe \(FIFO\), not a file or folder"):
            run_within(20, lambda: load_images(tmp_path / "pipe.npz"))
        with pytest.raises(DataError, match="is a named pipe"):
            run_within(20, lambda: load_npz(tmp_path / "pipe.npz"))
    finally:
        unblock_fifo(tmp_path / "pipe.npz")
    with pytest.raises(DataError, match="is a character device"):
        check_data_path("/dev/null")


# ---------------------------------------------------------------- npz archives

def test_non_finite_pixels_are_refused(tmp_path):
    x = np.random.default_rng(0).random((6, 4, 4)).astype(np.float32)
    x[1, 0, 0], x[4, 2, 2] = np.nan, np.inf
    np.savez(tmp_path / "bad.npz", x=x, y=[0, 0, 0, 1, 1, 1])
    with pytest.raises(DataError, match="2 of 6 images hold NaN or infinite pixels") as e:
        load_npz(tmp_path / "bad.npz")
    assert "\n" not in str(e.value)
    for seed in range(3):  # refused whether or not the sample of 1 per class picks a bad image
        with pytest.raises(DataError, match="2 of 6 images hold NaN"):
            load_npz(tmp_path / "bad.npz", max_per_class=1, seed=seed)


@pytest.mark.parametrize("content,message", [
    (b"just some text\n", "is not an npz archive"),
    (pickle.dumps({"x": 1}), "is not an npz archive"),
    (None, "is a single .npy array, not an npz archive"),
], ids=["text", "pickle", "npy"])
def test_a_file_that_is_no_npz_archive(tmp_path, content, message):
    path = tmp_path / "data.npz"
    if content is None:
        np.save(tmp_path / "data.npy", np.zeros((2, 4, 4)))
        (tmp_path / "data.npy").rename(path)
    else:
        path.write_bytes(content)
    with pytest.raises(DataError, match=message) as e:
        load_images(path, format="npz")
    assert "allow_pickle" not in str(e.value) and "numpy.savez" in str(e.value)


def test_object_arrays_in_an_npz_are_not_unpickled(tmp_path):
    np.savez(tmp_path / "obj.npz", x=np.zeros((4, 4, 4)), y=np.array([0, 1, 0, 1]),
             class_names=np.array(["a", "b"], dtype=object))
    with pytest.raises(DataError, match="holds Python objects") as e:
        load_npz(tmp_path / "obj.npz")
    assert "allow_pickle" not in str(e.value)


# ---------------------------------------------------------------- 16-bit images: one scale per type

def test_dark_and_bright_16_bit_files_share_one_scale(tmp_path):
    dark = np.full((8, 8), 200, dtype=np.uint16)
    bright = dark.copy()
    bright[:, 4:] = 60000
    Image.fromarray(dark).save(tmp_path / "dark.png")
    Image.fromarray(bright).save(tmp_path / "bright.png")
    a, b = decode_image(tmp_path / "dark.png", 8), decode_image(tmp_path / "bright.png", 8)
    assert a[0, 0, 0] == b[0, 0, 0] == 1  # 200 / 65535 of full scale, in both
    assert b[0, 7, 0] == round(60000 * 255 / 65535)


def test_16_bit_arrays_scale_by_their_type_not_their_maximum():
    dark = np.full((2, 4, 4), 200, dtype=np.uint16)
    assert (to_uint8_nhwc(dark) == 1).all()
    assert (to_uint8_nhwc(np.full((2, 4, 4), 32767, dtype=np.int16)) == 255).all()
    assert (to_uint8_nhwc(np.ones((2, 4, 4), dtype=bool)) == 255).all()
    # int64 carries no bit depth: 8-bit values stay as they are, 16-bit ones are scaled, more is refused
    assert (to_uint8_nhwc(np.full((2, 4, 4), 200, dtype=np.int64)) == 200).all()
    assert (to_uint8_nhwc(np.full((2, 4, 4), 65535, dtype=np.int64)) == 255).all()
    with pytest.raises(DataError, match="more than 16 bits"):
        to_uint8_nhwc(np.full((2, 4, 4), 70000, dtype=np.int64))
