"""run_generation's stages with stub generator, scorer and extractor (no checkpoints, no backbone)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from metad2a.errors import DataError, MetaD2AError
from metad2a.generation.costs import network_costs
from metad2a.generation.pipeline import (GenerationSettings, dataset_name, dedupe, group_by_class, run_generation,
                                         scorer_images)
from metad2a.space import all_archs, canonical_form
from metad2a.space.network import build_model, count_flops, count_params
from tests.generation.conftest import make_folder

A = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
B = "|none~0|+|skip_connect~0|nor_conv_1x1~1|+|nor_conv_3x3~0|skip_connect~1|nor_conv_3x3~2|"
# Two strings, one cell: node 1 is dead (none into it), so what leaves it does not matter.
DEAD = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
DEAD_TWIN = "|none~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|"


class StubExtractor:
    name, dim = "stub", 4

    def extract(self, images, cache=None, progress=True):
        return images.reshape(len(images), -1)[:, :4].astype(np.float32)


class StubGenerator:
    """Returns the same two cells over and over, so dedupe must cut them to 2."""

    def __init__(self):
        self.calls = []

    def sample_cells(self, features, n, temperature=1.0, seed=0):
        self.calls.append((features.shape, n, seed))
        return [A, B] * (n // 2) + [A] * (n % 2)


class StubScorer:
    name = "stub"

    def __init__(self):
        self.seen = None

    def score(self, archs, dataset=None):
        self.seen = dataset
        return np.array([float(a.count("conv_3x3")) for a in archs])


def _settings(data, **kw) -> GenerationSettings:
    return GenerationSettings(data=str(data), images_per_class=4, image_size=16, feature_cache=False,
                              progress=False, **kw)


def test_stages_with_stubs(tmp_path):
    data = make_folder(tmp_path / "ds", classes=3, per_class=5)
    gen, scorer = StubGenerator(), StubScorer()
    r, model = run_generation(_settings(data, num_samples=60, top_k=2), scorer, gen, StubExtractor())
    assert r.generator == {"sampled": 60, "valid": 60, "unique": 2}
    assert [n for _, n, _ in gen.calls] == [25, 25, 10]  # sampled in chunks under the bar
    assert len({s for *_, s in gen.calls}) == 3  # each chunk its own seed
    assert gen.calls[0][0] == (3, 4, 4)  # (classes, images_per_class, feature dim)
    assert [c.arch for c in r.ranked] == [A, B] and model.arch == A and model.num_classes == 3
    assert scorer.seen.features.shape == (3, 4, 4) and scorer.seen.num_classes == 3
    assert scorer.seen.images.shape == (12, 3, 32, 32) and scorer.seen.labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert set(r.timings_s) == {"load_images", "features", "generate", "score", "rank", "total"}


def test_fewer_unique_cells_than_top_k_warns(tmp_path, caplog):
    data = make_folder(tmp_path / "ds", classes=2, per_class=3)
    with caplog.at_level(logging.WARNING):
        r, _ = run_generation(_settings(data, num_samples=10, top_k=5), StubScorer(), StubGenerator(), StubExtractor())
    assert len(r.ranked) == 2
    assert "only 2 unique candidate cells for top_k=5" in caplog.text and any("only 2" in w for w in r.warnings)


def test_dedupe_counts_invalid_and_isomorphic():
    assert canonical_form(DEAD) == canonical_form(DEAD_TWIN)
    kept, counts = dedupe([A, "not a cell", B, A, DEAD, DEAD_TWIN])
    assert kept == [A, B, DEAD]
    assert counts == {"sampled": 6, "valid": 5, "unique": 3}


def test_group_by_class_fills_short_classes_and_refuses_empty():
    feats = np.arange(10, dtype=np.float32).reshape(5, 2)
    out = group_by_class(feats, np.array([0, 0, 0, 1, 1]), 2, 3, seed=0)
    assert out.shape == (2, 3, 2)
    assert set(out[1, :, 0].tolist()) <= {6.0, 8.0}  # class 1 resampled from its own two images
    with pytest.raises(DataError, match="class 2 has no usable images"):
        group_by_class(feats, np.array([0, 0, 0, 1, 1]), 3, 3, seed=0)


def test_scorer_images_are_32px_standardised():
    imgs = np.random.default_rng(0).integers(0, 255, size=(6, 64, 64, 3), dtype=np.uint8)
    x = scorer_images(imgs, 32)
    assert x.shape == (6, 3, 32, 32) and x.dtype == torch.float32
    assert torch.allclose(x.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-4)
    assert torch.allclose(x.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-3)


def test_dataset_name():
    assert dataset_name("/x/cifar10/test") == "cifar10/test"
    assert dataset_name("/x/pets/") == "pets" and dataset_name("/x/set.npz") == "set"


@pytest.mark.parametrize("num_classes,C,N,side", [(10, 16, 5, 32), (7, 8, 2, 16), (3, 4, 1, 24)])
def test_network_costs_match_a_built_network(num_classes, C, N, side):
    rng = np.random.default_rng(num_classes)
    archs = all_archs()
    for i in rng.choice(len(archs), 6, replace=False):
        net = build_model(archs[i], num_classes, C=C, N=N)
        assert network_costs(archs[i], num_classes, C, N, (3, side, side)) == \
            (count_params(net), count_flops(net, (3, side, side))), archs[i]


def test_exhaustive_without_a_feature_reader_skips_features(tmp_path):
    data = make_folder(tmp_path / "ds", classes=2, per_class=3)
    scorer = StubScorer()
    r, _ = run_generation(_settings(data, search="exhaustive", top_k=3), scorer, None, extractor=None)
    assert scorer.seen.features is None and scorer.seen.images.shape == (6, 3, 32, 32)
    assert r.generator["unique"] == 6466 and r.ranked[0].predicted_accuracy == 6.0  # all six edges conv_3x3
    with pytest.raises(MetaD2AError, match="search=generator needs the graph VAE"):
        run_generation(_settings(data), scorer, StubGenerator(), extractor=None)
