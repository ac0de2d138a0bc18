import math

import pytest
import torch

from metad2a.models.losses import listnet_loss, pairwise_ranking_loss, ranking_loss, standardize_within


def test_standardize_within_groups():
    x = torch.tensor([1.0, 2.0, 3.0, 10.0, 30.0])
    g = torch.tensor([0, 0, 0, 5, 5])
    s = standardize_within(x, g)
    assert torch.allclose(s[:3].mean(), torch.tensor(0.0), atol=1e-6)
    assert torch.allclose(s[3:], torch.tensor([-1.0, 1.0]), atol=1e-4)


def test_ranking_losses_ignore_cross_task_pairs_and_scale():
    target = torch.tensor([0.1, 0.2, 0.3, 0.9, 0.8, 0.7])
    group = torch.tensor([0, 0, 0, 1, 1, 1])
    right = target.clone()
    # Shifting a whole task or rescaling predictions changes nothing: only within-task order counts.
    moved = right + torch.tensor([5.0, 5, 5, -5, -5, -5])
    for fn in (pairwise_ranking_loss, listnet_loss):
        assert torch.allclose(fn(right, target, group), fn(moved, target, group), atol=1e-5)
        assert torch.allclose(fn(right, target, group), fn(100 * right, target, group), atol=1e-4)
        assert fn(right, target, group) < fn(-right, target, group)


def test_pairwise_random_order_is_log2():
    pred = torch.zeros(4)
    loss = pairwise_ranking_loss(pred, torch.arange(4.0), torch.zeros(4, dtype=torch.long))
    assert math.isclose(loss.item(), math.log(2), rel_tol=1e-5)


def test_unknown_rank_loss_says_what_to_use():
    with pytest.raises(ValueError, match="model.rank_loss=pairwise"):
        ranking_loss("hinge", torch.zeros(2), torch.zeros(2), torch.zeros(2, dtype=torch.long))
