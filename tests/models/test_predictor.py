import torch

from metad2a.metrics import kendall_tau
from metad2a.models import MetaPredictor, ModelConfig, encode_archs, pad_features
from metad2a.space import all_archs
from metad2a.models.losses import pairwise_ranking_loss, regression_loss

CFG = ModelConfig(feat_dim=8, hidden_dim=32, latent_dim=8, heads=2, num_inducing=4, gnn_layers=2)


def test_shapes_and_agnostic_ignores_dataset():
    x, mask = pad_features([torch.randn(3, 4, 8), torch.randn(5, 2, 8)])
    nt = encode_archs(all_archs()[:6])
    idx = torch.tensor([0, 0, 0, 1, 1, 1])
    m = MetaPredictor(CFG)
    assert m.embed_dataset(x, mask).shape == (2, 32)
    assert m(m.embed_dataset(x, mask), nt, idx).shape == (6,)
    a = MetaPredictor(CFG, agnostic=True)
    assert not hasattr(a, "dataset_encoder")
    e1, e2 = a.embed_dataset(x, mask), a.embed_dataset(x * 0 + 5, mask)
    assert torch.equal(e1, e2) and a.embed_dataset(None, batch=3).shape == (3, 32)


def test_overfits_opposite_rankings():
    """Two datasets that rank the same 8 cells in opposite orders: only the conditioned model can fit both."""
    torch.manual_seed(0)
    x, mask = pad_features([torch.randn(3, 4, 8) + 2.0, torch.randn(3, 4, 8) - 2.0])
    nt = encode_archs(all_archs()[::2000][:8]).repeat(2, 1)
    idx = torch.arange(2).repeat_interleave(8)
    y = torch.linspace(0.5, 0.7, 8)
    y = torch.cat([y, y.flip(0)])
    m = MetaPredictor(CFG)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    for _ in range(200):
        p = m(m.embed_dataset(x, mask), nt, idx)
        loss = regression_loss(p, y) + pairwise_ranking_loss(p, y, idx)
        opt.zero_grad()
        loss.backward()
        opt.step()
    # RankNet on within-task z-scores: log 2 = 0.69 for a random order, 0.283 for a perfect order of 8
    assert loss.item() < 0.30
    assert kendall_tau(p[:8].detach(), y[:8]) == 1.0 and kendall_tau(p[8:].detach(), y[8:]) == 1.0


def test_graf_cell_features_are_standardised_and_saved_with_the_model():
    from metad2a.models.cell_features import GRAF_DIM, graf_of_node_types
    from metad2a.space.graf import graf_features

    archs = all_archs()[::700]
    nt = encode_archs(archs)
    assert torch.allclose(graf_of_node_types(nt)[3], torch.tensor(graf_features(archs[3]), dtype=torch.float32))
    m = MetaPredictor(ModelConfig(**{**CFG.to_dict(), "cell_features": "graf"}))
    m.cell_features.fit(nt)
    z = m.cell_features(nt)
    assert z.shape == (len(archs), GRAF_DIM) and z.mean(0).abs().max() < 1e-4
    x, mask = pad_features([torch.randn(3, 4, 8)])
    out = m(m.embed_dataset(x, mask), nt, torch.zeros(len(archs), dtype=torch.long))
    twin = MetaPredictor(ModelConfig(**{**CFG.to_dict(), "cell_features": "graf"}))
    twin.load_state_dict(m.state_dict())  # the standardisation is part of the state
    assert torch.equal(twin.cell_features.std, m.cell_features.std)
    assert torch.allclose(out, twin(twin.embed_dataset(x, mask), nt, torch.zeros(len(archs), dtype=torch.long)))
