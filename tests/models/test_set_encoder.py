import pytest
import torch

from metad2a.models import ISAB, MAB, PMA, SAB, DatasetEncoder, pad_features


def encoder(feat_dim: int = 12) -> DatasetEncoder:
    torch.manual_seed(0)
    return DatasetEncoder(feat_dim, dim=16, heads=2, num_inducing=4).eval()


def test_block_shapes():
    x, k = torch.randn(3, 7, 16), torch.randn(3, 5, 8)
    assert MAB(16, 8, 24, 4)(x, k).shape == (3, 7, 24)
    assert SAB(16, 24, 4)(x).shape == (3, 7, 24)
    assert ISAB(16, 24, 4, 3)(x).shape == (3, 7, 24)
    assert PMA(16, 4, num_seeds=2)(x).shape == (3, 2, 16)


@pytest.mark.parametrize("C,N", [(2, 1), (2, 20), (10, 20), (1000, 2)])
def test_dataset_encoder_shapes(C, N):
    out = encoder()(torch.randn(2, C, N, 12))
    assert out.shape == (2, 16) and torch.isfinite(out).all()


def test_invariant_to_sample_and_class_order():
    torch.manual_seed(1)
    x = torch.randn(1, 6, 9, 12)
    enc = encoder()
    ref = enc(x)
    by_sample = torch.stack([x[0, c, torch.randperm(9)] for c in range(6)])[None]  # each class its own shuffle
    by_class = x[:, torch.randperm(6)]
    with torch.no_grad():
        assert torch.allclose(enc(by_sample), ref, atol=1e-5)
        assert torch.allclose(enc(by_class), ref, atol=1e-5)
        assert not torch.allclose(enc(torch.randn_like(x)), ref, atol=1e-3)  # but it does look at the data


def test_padding_does_not_leak():
    """A task encoded in a padded batch equals the task encoded alone."""
    torch.manual_seed(2)
    a, b = torch.randn(3, 4, 12), torch.randn(7, 2, 12)
    x, mask = pad_features([a, b])
    assert x.shape == (2, 7, 4, 12) and mask.sum() == 3 * 4 + 7 * 2
    enc = encoder()
    with torch.no_grad():
        both = enc(x, mask)
        assert torch.allclose(both[0], enc(a[None])[0], atol=1e-5)
        assert torch.allclose(both[1], enc(b[None])[0], atol=1e-5)


def test_sees_the_number_of_classes():
    x = torch.randn(1, 1, 5, 12).expand(1, 8, 5, 12)  # 8 identical classes vs 1
    enc = encoder()
    with torch.no_grad():
        assert not torch.allclose(enc(x), enc(x[:, :1]), atol=1e-4)
