"""Frozen feature extractors: weights mapping, shapes, determinism, disk cache, missing-weights errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from metad2a.errors import CheckpointError, DataError, MetaD2AError
from metad2a.features import (
    EfficientNetLite0,
    FeatureCache,
    available_extractors,
    build_extractor,
    default_cache_dir,
    load_efficientnet_lite0,
    resnet18_weights_path,
)
from metad2a.features import efficientnet_lite0 as effnet


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One intra-op thread: on small batches and shared CI cores two threads mostly spin-wait."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def extractor():
    return build_extractor("efficientnet_lite0", resolution=64, batch_size=4)


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).integers(0, 256, (6, 40, 40, 3), dtype=np.uint8)


def test_package_weights_map_onto_our_module_strictly():
    state = torch.load(effnet.weights_path(), map_location="cpu", weights_only=True)
    mapped = effnet.remap_state_dict(state)
    assert set(mapped) == set(EfficientNetLite0().state_dict())
    model = load_efficientnet_lite0()  # strict=True inside
    assert torch.equal(model.classifier.weight, state["_fc.weight"])
    assert torch.equal(model.blocks[15].project.bn.running_var, state["_blocks.15._bn2.running_var"])


def test_incompatible_weights_raise_checkpoint_error(tmp_path):
    state = torch.load(effnet.weights_path(), map_location="cpu", weights_only=True)
    state.pop("_conv_head.weight")
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(CheckpointError, match="do not fit the model"):
        load_efficientnet_lite0(tmp_path / "partial.pth")
    with pytest.raises(CheckpointError, match="unexpected key 'extra.weight'"):
        effnet.remap_state_dict({"extra.weight": torch.zeros(1)})
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_efficientnet_lite0(tmp_path / "junk.pth")


@pytest.mark.parametrize("k, s, h, w", [(3, 2, 32, 32), (5, 2, 16, 17), (3, 2, 7, 8), (5, 1, 9, 9), (1, 1, 6, 6)])
def test_same_padding_matches_tensorflow_rule(k, s, h, w):
    conv = effnet.SameConv2d(3, 4, k, s, bias=True)
    x = torch.randn(2, 3, h, w)
    pads = []
    for size in (w, h):
        total = max((math.ceil(size / s) - 1) * s + k - size, 0)
        pads += [total // 2, total - total // 2]
    want = F.conv2d(F.pad(x, pads), conv.weight, conv.bias, s)
    assert torch.allclose(conv(x), want, atol=1e-5)


def test_batchnorm_fusion_keeps_outputs():
    model = load_efficientnet_lite0()
    x = torch.randn(2, 3, 48, 56)
    with torch.inference_mode():
        before = model(x)
        after = model.fuse_bn()(x)
    assert torch.allclose(before, after, atol=1e-4)


def test_extract_shape_dtype_and_determinism(extractor, images):
    assert (extractor.name, extractor.dim, extractor.resolution) == ("efficientnet_lite0", 1280, 64)
    a = extractor.extract(images, progress=False)
    b = extractor(images, progress=False)
    assert a.shape == (6, 1280) and a.dtype == np.float32 and np.isfinite(a).all()
    assert np.array_equal(a, b)
    assert not np.allclose(a[0], a[1])  # different images, different features
    # Batching must not change results (BN is frozen, so batch composition is irrelevant).
    assert np.allclose(extractor.extract(images[2:3], progress=False)[0], a[2], atol=1e-5)


def test_num_threads_applies_during_extraction_only(images):
    ex = build_extractor(resolution=32, num_threads=2)
    seen = []
    ex.model.register_forward_pre_hook(lambda *_: seen.append(torch.get_num_threads()))
    ex.extract(images[:1], progress=False)
    assert seen == [2] and torch.get_num_threads() == 1  # the module fixture's setting is back


def test_extract_rejects_bad_input(extractor):
    with pytest.raises(DataError, match="uint8"):
        extractor.extract(np.zeros((2, 8, 8, 3), dtype=np.float32))
    assert extractor.extract(np.zeros((0, 8, 8, 3), dtype=np.uint8)).shape == (0, 1280)
    with pytest.raises(MetaD2AError, match="unknown feature extractor 'vgg'"):
        build_extractor("vgg")


def test_cache_hit_skips_the_model(tmp_path, extractor, images):
    cache = FeatureCache(tmp_path / "c")
    start = extractor.images_computed
    first = extractor.extract(images, cache=cache, progress=False)
    assert extractor.images_computed == start + len(images)
    second = extractor.extract(images, cache=cache, progress=False)
    assert extractor.images_computed == start + len(images)  # served from disk
    assert np.array_equal(first, second)
    files = list((tmp_path / "c").rglob("*"))
    npy = [f for f in files if f.suffix == ".npy"]
    assert len(npy) == 1 and f"r{extractor.resolution}" in str(npy[0]) and extractor.tag in str(npy[0])
    assert not [f for f in files if f.name.endswith(".tmp")]
    # Other images or another resolution are different keys.
    extractor.extract(images[:3], cache=cache, progress=False)
    assert extractor.images_computed == start + len(images) + 3
    # A damaged entry is a miss, recomputed and rewritten.
    npy[0].write_bytes(b"garbage")
    again = extractor.extract(images, cache=cache, progress=False)
    assert np.array_equal(again, first) and extractor.images_computed == start + 2 * len(images) + 3


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("METAD2A_CACHE", str(tmp_path / "root"))
    assert default_cache_dir() == tmp_path / "root" / "features"
    assert FeatureCache().directory == tmp_path / "root" / "features"
    monkeypatch.delenv("METAD2A_CACHE")
    assert default_cache_dir().parts[-3:] == (".cache", "metad2a", "features")


def test_resnet18_missing_weights_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    with pytest.raises(CheckpointError) as e:
        resnet18_weights_path()
    msg = str(e.value)
    assert "ResNet18 weights not found" in msg and "resnet18(weights='IMAGENET1K_V1')" in msg and "\n" not in msg
    with pytest.raises(CheckpointError):
        build_extractor("resnet18")
    assert "resnet18" not in available_extractors()


def test_resnet18_loads_a_cached_checkpoint(tmp_path, monkeypatch):
    from torchvision.models import resnet18

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    ckpt = tmp_path / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    torch.save(resnet18(weights=None).state_dict(), ckpt / "resnet18-0123abcd.pth")  # stand-in, no download
    ex = build_extractor("resnet18", resolution=32)
    out = ex.extract(np.zeros((2, 16, 16, 3), dtype=np.uint8), progress=False)
    assert out.shape == (2, 512) and out.dtype == np.float32
    assert ex.tag == "resnet18-0123abcd" and "resnet18" in available_extractors()


def test_weights_are_imagenet_pretrained(shared_data, extractor):
    """Nearest-centroid on 5 Tiny-ImageNet classes and the 1000-way head both far above chance."""
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    from metad2a.data import load_tiny_imagenet, tiny_imagenet_classes, tiny_imagenet_words

    root = shared_data / "images" / "tiny-imagenet-200"
    wnids = tiny_imagenet_classes(root)[::40][:5]
    tr = load_tiny_imagenet(root, "train", classes=wnids, max_per_class=10, progress=False)
    te = load_tiny_imagenet(root, "val", classes=wnids, max_per_class=10, progress=False)
    ftr, fte = extractor.extract(tr.images, progress=False), extractor.extract(te.images, progress=False)
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)  # noqa: E731
    centroids = unit(np.stack([unit(ftr)[tr.labels == c].mean(0) for c in range(5)]))
    nc_acc = float(((unit(fte) @ centroids.T).argmax(1) == te.labels).mean())
    assert nc_acc >= 0.5, nc_acc  # chance 0.2; 0.58 here, 0.87 with 50 images per class (bench)

    index = {n: i for i, n in enumerate(_IMAGENET_CATEGORIES)}
    words = tiny_imagenet_words(root)
    target = np.array([next(index[n.strip()] for n in words[w].split(",") if n.strip() in index) for w in wnids])
    with torch.inference_mode():
        logits = load_efficientnet_lite0().classifier(torch.from_numpy(fte))
    top5 = logits.topk(5, dim=1).indices.numpy()
    top5_acc = float((top5 == target[te.labels][:, None]).any(1).mean())
    assert top5_acc >= 0.2, top5_acc  # chance 0.005 over 1000 classes; random weights score ~0
