"""Image loaders and per-class sampling on tiny synthetic folders and arrays (plus the shared sets when present)."""

from __future__ import annotations

import gzip
import logging
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from metad2a.data import (
    ImageSet,
    decode_image,
    detect_format,
    load_idx,
    load_image_folder,
    load_images,
    load_npz,
    load_tiny_imagenet,
    read_idx,
    sample_per_class,
    split_per_class,
    tiny_imagenet_classes,
)
from metad2a.errors import DataError

RED = (200, 30, 30)


def _save(img: Image.Image, path: Path, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **kw)
    return path


def _rgb(color=RED, size=(20, 16)) -> Image.Image:
    return Image.new("RGB", size, color)


def _two_class_folder(root: Path, n: int = 3, ext: str = "png") -> Path:
    for c, color in (("cat", RED), ("dog", (20, 40, 220))):
        for i in range(n):
            _save(_rgb(color), root / c / f"{i}.{ext}")
    return root


# ---------------------------------------------------------------- decoding of odd image modes

def test_decode_modes_become_rgb(tmp_path):
    gray = _save(Image.new("L", (10, 10), 128), tmp_path / "g.png")
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))  # fully transparent red -> white background
    rgba = _save(rgba, tmp_path / "a.png")
    pal = _save(_rgb().convert("P", palette=Image.Palette.ADAPTIVE), tmp_path / "p.gif")
    cmyk = _save(Image.new("CMYK", (10, 10), (0, 255, 255, 0)), tmp_path / "c.jpg")
    i16 = _save(Image.fromarray(np.full((10, 10), 65535, dtype=np.uint16)), tmp_path / "i16.png")
    i32 = _save(Image.fromarray(np.full((10, 10), 32896, dtype=np.int32), mode="I"), tmp_path / "i32.tif")
    bw = _save(Image.new("1", (10, 10), 1), tmp_path / "bw.bmp")
    for p in (gray, rgba, pal, cmyk, i16, i32, bw):
        a = decode_image(p, 8)
        assert a.shape == (8, 8, 3) and a.dtype == np.uint8, p
    assert (decode_image(gray, 8) == 128).all()
    assert (decode_image(rgba, 8) == 255).all()  # composited on white, not black
    assert abs(int(decode_image(cmyk, 8)[0, 0, 0]) - 255) < 8 and decode_image(cmyk, 8)[0, 0, 1] < 8
    assert (decode_image(i16, 8) == 255).all()  # 16-bit full scale maps to 255, not clipped garbage
    assert abs(int(decode_image(i32, 8)[0, 0, 0]) - 128) <= 1
    assert abs(int(decode_image(pal, 8)[0, 0, 0]) - RED[0]) < 8
    assert (decode_image(bw, 8) == 255).all()


def test_decode_keeps_aspect_by_centre_crop(tmp_path):
    img = Image.new("RGB", (30, 10), (0, 0, 0))
    img.paste((255, 255, 255), (10, 0, 20, 10))  # white centre third
    a = decode_image(_save(img, tmp_path / "wide.png"), 10)
    assert a.shape == (10, 10, 3) and a.mean() > 250


def test_large_jpeg_is_drafted_down_and_huge_png_is_refused(tmp_path):
    big = _save(Image.new("RGB", (1600, 1200), (10, 200, 10)), tmp_path / "c" / "big.jpg", quality=80)
    a = decode_image(big, 32, max_pixels=1_000_000)  # 1.9 MP, but JPEG draft decodes at 1/8 scale
    assert a.shape == (32, 32, 3) and a[..., 1].mean() > 180
    _save(Image.new("RGB", (1600, 1200)), tmp_path / "c" / "big.png")
    _save(_rgb(), tmp_path / "c" / "ok.png")
    _save(_rgb(), tmp_path / "d" / "ok.png")
    s = load_image_folder(tmp_path, 16, max_pixels=1_000_000)
    assert s.n_too_large == 1 and len(s) == 3
    assert any("larger than 1 megapixels" in w for w in s.warnings)


# ---------------------------------------------------------------- folders

def test_folder_loads_labels_and_counts(tmp_path):
    root = _two_class_folder(tmp_path / "ds")
    s = load_image_folder(root, size=12)
    assert isinstance(s, ImageSet)
    assert s.images.shape == (6, 12, 12, 3) and s.images.dtype == np.uint8
    assert s.labels.dtype == np.int64 and s.class_names == ["cat", "dog"]
    assert s.class_counts().tolist() == [3, 3]
    assert (s.images[s.labels == 0][..., 0] > 150).all() and (s.images[s.labels == 1][..., 2] > 150).all()
    assert (s.n_corrupt, s.n_non_image, s.n_too_large) == (0, 0, 0) and s.warnings == []


def test_folder_finds_train_subfolder_and_nested_files(tmp_path):
    _two_class_folder(tmp_path / "ds" / "train")
    _save(_rgb(), tmp_path / "ds" / "test" / "cat" / "x.png")  # must be ignored
    _save(_rgb(), tmp_path / "ds" / "train" / "cat" / "images" / "deep.JPEG")
    s = load_images(tmp_path / "ds", size=8)
    assert s.class_counts().tolist() == [4, 3]
    assert s.source.endswith("train")


def test_corrupt_and_non_image_files_are_skipped_and_counted(tmp_path, caplog):
    root = _two_class_folder(tmp_path / "ds")
    (root / "cat" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    good = (root / "dog" / "0.png").read_bytes()
    (root / "dog" / "truncated.png").write_bytes(good[: len(good) // 2])
    (root / "cat" / "notes.txt").write_text("hello")
    (root / "dog" / ".DS_Store").write_bytes(b"\0")  # hidden OS files are ignored silently
    with caplog.at_level(logging.WARNING):
        s = load_image_folder(root, 8)
    assert (s.n_corrupt, s.n_non_image) == (2, 1)
    assert s.class_counts().tolist() == [3, 3]
    assert "skipped 2 corrupt" in caplog.text and "skipped 1 non-image" in caplog.text


def test_corrupt_files_are_replaced_when_sampling(tmp_path):
    root = _two_class_folder(tmp_path / "ds", n=4)
    for i in range(3):
        (root / "cat" / f"bad{i}.jpg").write_bytes(b"junk")
    s = load_image_folder(root, 8, max_per_class=4, seed=1)
    assert s.class_counts().tolist() == [4, 4] and s.n_corrupt == 3


def test_few_images_per_class_warns_and_uses_what_there_is(tmp_path, caplog):
    root = _two_class_folder(tmp_path / "ds", n=2)
    for i in range(5):
        _save(_rgb(), root / "cat" / f"x{i}.png")
    with caplog.at_level(logging.WARNING):
        s = load_image_folder(root, 8, max_per_class=4)
    assert s.class_counts().tolist() == [4, 2]
    assert "fewer than 4 images (dog:2)" in caplog.text


def test_max_per_class_sampling_is_seeded(tmp_path):
    root = tmp_path / "ds"
    for c in ("a", "b"):
        for i in range(10):
            _save(_rgb((i * 20, 0, 0)), root / c / f"{i}.png")
    a1 = load_image_folder(root, 4, max_per_class=3, seed=5).images
    a2 = load_image_folder(root, 4, max_per_class=3, seed=5).images
    b = load_image_folder(root, 4, max_per_class=3, seed=6).images
    assert np.array_equal(a1, a2) and not np.array_equal(a1, b)


def _make(root: Path, spec: dict[str, object] | None) -> None:
    """Create ``root`` from {relative path: "img" (a PNG) | bytes | "dir"}; None leaves it absent."""
    if spec is None:
        return
    root.mkdir(parents=True)
    for rel, what in spec.items():
        p = root / rel
        if what == "dir":
            p.mkdir(parents=True)
        elif what == "img":
            _save(_rgb(), p)
        else:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(what)


@pytest.mark.parametrize(
    "spec, message",
    [
        (None, "does not exist"),
        ({}, "no class sub-folders"),
        ({"a": "dir", "b": "dir"}, "no images found"),
        ({"only/x.png": "img"}, "only one class ('only')"),
        ({"loose.png": "img"}, "images lie directly in it"),
        ({"a/x.png": "img", "b/y.txt": b"x"}, "only one class ('a')"),
        ({"a/x.jpg": b"no", "b/y.png": b"no"}, "no readable images"),
    ],
    ids=["missing", "empty", "empty-classes", "single-class", "loose-files", "single-after-non-image", "all-corrupt"],
)
def test_unusable_folders_raise_one_line_data_error(tmp_path, spec, message):
    root = tmp_path / "ds"
    _make(root, spec)
    with pytest.raises(DataError) as e:
        load_images(root, format="folder", size=8)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_file_given_as_folder_and_bad_format(tmp_path):
    f = tmp_path / "x.png"
    _save(_rgb(), f)
    with pytest.raises(DataError, match="is a file, not a folder"):
        load_image_folder(f, 8)
    with pytest.raises(DataError, match="cannot tell the format"):
        load_images(f)
    with pytest.raises(DataError, match="unknown data format 'zip'"):
        load_images(tmp_path, format="zip")


# ---------------------------------------------------------------- idx and npz

def _write_idx(path: Path, arr: np.ndarray, gz: bool = True) -> Path:
    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    data = header + arr.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def test_idx_round_trip_and_folder_detection(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (12, 28, 28), dtype=np.uint8)
    y = np.arange(12) % 3
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", x)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", y)
    assert np.array_equal(read_idx(tmp_path / "t10k-images-idx3-ubyte.gz"), x)
    s = load_idx(tmp_path / "t10k-images-idx3-ubyte.gz")  # labels path derived from the name
    assert s.images.shape == (12, 28, 28, 3) and np.array_equal(s.images[..., 1], x)
    assert s.labels.tolist() == y.tolist() and s.class_names == ["0", "1", "2"]
    assert detect_format(tmp_path) == "idx"
    s32 = load_images(tmp_path, size=32, max_per_class=2)
    assert s32.images.shape == (6, 32, 32, 3)


def test_idx_errors(tmp_path):
    (tmp_path / "bad-images-idx3-ubyte").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(DataError, match="not an idx file"):
        read_idx(tmp_path / "bad-images-idx3-ubyte")
    raw = bytes([0, 0, 8, 1]) + struct.pack(">I", 100) + b"\0" * 10
    (tmp_path / "short-labels-idx1-ubyte").write_bytes(raw)
    with pytest.raises(DataError, match="truncated"):
        read_idx(tmp_path / "short-labels-idx1-ubyte")
    with pytest.raises(DataError, match="does not exist"):
        load_idx(tmp_path / "nope-images-idx3-ubyte.gz")


@pytest.mark.parametrize("layout", ["NHW", "NHWC", "NCHW", "NHWC4", "float01", "uint16"])
def test_npz_layouts_round_trip(tmp_path, layout):
    rng = np.random.default_rng(1)
    base = rng.integers(0, 256, (6, 10, 10, 3), dtype=np.uint8)
    y = np.array([3, 7, 3, 7, 3, 7])
    x = {
        "NHW": base[..., 0], "NHWC": base, "NCHW": base.transpose(0, 3, 1, 2),
        "NHWC4": np.concatenate([base, np.zeros_like(base[..., :1])], -1),
        "float01": base.astype(np.float32) / 255.0, "uint16": base.astype(np.uint16) * 257,
    }[layout]
    np.savez(tmp_path / "d.npz", x=x, y=y)
    s = load_images(tmp_path / "d.npz")
    assert s.images.dtype == np.uint8 and s.images.shape == (6, 10, 10, 3)
    want = np.repeat(base[..., :1], 3, -1) if layout == "NHW" else base
    assert np.abs(s.images.astype(int) - want).max() <= 1
    assert s.labels.tolist() == [0, 1, 0, 1, 0, 1] and s.class_names == ["3", "7"]
    assert load_npz(tmp_path / "d.npz", size=5).images.shape == (6, 5, 5, 3)


def test_npz_errors(tmp_path):
    np.savez(tmp_path / "k.npz", a=np.zeros((2, 4, 4)), b=np.zeros(2))
    with pytest.raises(DataError, match=r"name the images 'x'"):
        load_npz(tmp_path / "k.npz")
    np.savez(tmp_path / "one.npz", x=np.zeros((3, 4, 4)), y=np.zeros(3))
    with pytest.raises(DataError, match="only one class"):
        load_npz(tmp_path / "one.npz")
    np.savez(tmp_path / "mis.npz", x=np.zeros((3, 4, 4)), y=np.arange(2))
    with pytest.raises(DataError, match="3 images but 2 labels"):
        load_npz(tmp_path / "mis.npz")
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match="is not an npz archive"):
        load_npz(tmp_path / "junk.npz")


# ---------------------------------------------------------------- sampling

def test_sample_per_class_is_balanced_and_seeded(caplog):
    labels = np.array([0] * 10 + [1] * 3 + [2] * 7)
    with caplog.at_level(logging.WARNING):
        idx = sample_per_class(labels, 5, seed=0)
    assert np.bincount(labels[idx]).tolist() == [5, 3, 5]
    assert len(set(idx.tolist())) == len(idx)
    assert np.array_equal(idx, sample_per_class(labels, 5, seed=0))
    assert not np.array_equal(idx, sample_per_class(labels, 5, seed=1))
    assert "fewer than 5 images" in caplog.text


def test_split_per_class_is_disjoint_deterministic_and_proportional():
    labels = np.repeat(np.arange(4), 20)
    tr, te = split_per_class(labels, 12, 5, seed=3)
    assert np.bincount(labels[tr]).tolist() == [12] * 4 and np.bincount(labels[te]).tolist() == [5] * 4
    assert not set(tr) & set(te)
    tr2, te2 = split_per_class(labels, 12, 5, seed=3)
    assert np.array_equal(tr, tr2) and np.array_equal(te, te2)
    _, rest = split_per_class(labels, 12, None, seed=3)
    assert np.bincount(labels[rest]).tolist() == [8] * 4
    small = np.array([0] * 4 + [1] * 30)
    tr, te = split_per_class(small, 20, 10, seed=0)
    assert np.bincount(small[tr]).tolist() == [3, 20] and np.bincount(small[te]).tolist() == [1, 10]
    with pytest.raises(DataError, match="at least 2"):
        split_per_class(np.array([0, 1, 1]), 1, 1)


# ---------------------------------------------------------------- the shared data sets

def test_tiny_imagenet_train_and_val(shared_data):
    root = shared_data / "images" / "tiny-imagenet-200"
    wnids = tiny_imagenet_classes(root)[:3]
    tr = load_tiny_imagenet(root, "train", classes=wnids, max_per_class=7, size=32)
    va = load_tiny_imagenet(root, "val", classes=wnids[::-1])
    assert tr.images.shape == (21, 32, 32, 3) and tr.class_names == wnids
    assert va.images.shape == (150, 64, 64, 3) and va.class_names == wnids[::-1]
    with pytest.raises(DataError, match="unknown Tiny-ImageNet classes"):
        load_tiny_imagenet(root, classes=["n00000000"])


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_shared_idx_sets(shared_data, name):
    s = load_images(shared_data / "images" / name, size=32, max_per_class=5)
    assert s.images.shape == (50, 32, 32, 3) and s.num_classes == 10


def test_imageset_subset_fingerprint_and_validation():
    x = np.zeros((4, 3, 3, 3), dtype=np.uint8)
    s = ImageSet(x, np.array([0, 1, 0, 1]), ["a", "b"])
    sub = s.subset(np.array([1, 3]))
    assert sub.labels.tolist() == [1, 1] and sub.class_names == ["a", "b"] and len(sub) == 2
    assert s.fingerprint() == ImageSet(x.copy(), np.array([0, 1, 0, 1]), ["a", "b"]).fingerprint()
    assert s.fingerprint() != sub.fingerprint()
    with pytest.raises(ValueError, match="uint8"):
        ImageSet(x.astype(np.float32), np.zeros(4), ["a", "b"])
