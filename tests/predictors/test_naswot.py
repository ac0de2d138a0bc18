"""NASWOT: the kernel's algebra, the hooked kernel's diagonal, finite scores, clear errors."""

import pytest
import torch
from torch import nn

from metad2a.errors import DataError
from metad2a.predictors.base import DatasetSample, Scorer
from metad2a.predictors.naswot import NASWOTScorer, naswot_kernel, naswot_score, relu_kernel
from metad2a.space.network import build_model

CELL = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|nor_conv_3x3~2|"
EMPTY = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


def test_kernel_matches_definition_and_is_psd():
    codes = torch.rand(9, 300, generator=torch.Generator().manual_seed(0)) > 0.5
    c = codes.double()
    k = naswot_kernel(codes)
    assert k.dtype == torch.float64 and k.shape == (9, 9)
    assert torch.equal(k, c @ c.T + (1 - c) @ (1 - c).T)
    assert torch.all(k.diagonal() == 300)  # each code agrees with itself on every unit
    assert torch.linalg.eigvalsh(k).min() > -1e-9


def test_hooked_kernel_is_psd_with_diagonal_equal_to_hooked_units():
    torch.manual_seed(0)
    model = build_model(CELL, 10, C=4, N=1)
    images = torch.randn(6, 3, 8, 8)
    units = 0

    def count(_m, inputs):
        nonlocal units
        units += inputs[0][0].numel()

    handles = [m.register_forward_pre_hook(count) for m in model.modules() if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        model(images)
    for h in handles:
        h.remove()
    k = relu_kernel(model, images)
    assert units > 0 and torch.all(k.diagonal() == units)
    assert torch.allclose(k, k.T) and torch.linalg.eigvalsh(k).min() > -1e-6 * units
    assert model.training  # mode restored


def test_scores_are_finite_deterministic_and_rank_a_dead_cell_last():
    images = torch.randn(16, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    scorer = NASWOTScorer(batch_size=16, C=4, N=1)
    data = DatasetSample(name="toy", num_classes=3, images=images)
    rng_state = torch.get_rng_state()
    s = scorer.score([CELL, EMPTY, CELL], data)
    assert torch.equal(torch.get_rng_state(), rng_state)  # weights are seeded without touching the caller's RNG
    assert s.shape == (3,) and torch.isfinite(torch.tensor(s[0]))
    assert s[0] == s[2]  # same seed, same batch -> same score
    assert s[1] < s[0]
    assert isinstance(scorer, Scorer)


def test_batch_is_a_seeded_subset_of_the_images():
    images = torch.randn(40, 3, 8, 8)
    a = NASWOTScorer(batch_size=8, seed=3).batch(DatasetSample(images=images))
    b = NASWOTScorer(batch_size=8, seed=3).batch(DatasetSample(images=images))
    assert a.shape == (8, 3, 8, 8) and torch.equal(a, b)


def test_naswot_score_on_grayscale_images():
    torch.manual_seed(0)
    model = build_model(CELL, 10, C=4, N=1, in_channels=1)
    assert torch.isfinite(torch.tensor(naswot_score(model, torch.randn(8, 1, 8, 8))))


@pytest.mark.parametrize("dataset", [None, DatasetSample(name="no images"), DatasetSample(images=torch.zeros(3, 8))])
def test_scorer_without_images_raises_one_clear_error(dataset):
    with pytest.raises(DataError, match="dataset.images"):
        NASWOTScorer().score([CELL], dataset)
