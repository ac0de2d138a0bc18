import pytest
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


def test_recipe_conditioning_learns_two_recipes_of_the_same_dataset():
    """The same dataset labelled by two recipes that rank 8 cells in opposite orders: the recipe input
    lets one model fit both, and the default (answer) recipe is the one asked for at inference."""
    torch.manual_seed(0)
    x, mask = pad_features([torch.randn(3, 4, 8), torch.randn(3, 4, 8)])
    x[1] = x[0]  # one dataset, twice
    nt = encode_archs(all_archs()[::2000][:8]).repeat(2, 1)
    idx = torch.arange(2).repeat_interleave(8)
    y = torch.linspace(0.5, 0.7, 8)
    y = torch.cat([y, y.flip(0)])
    cfg = ModelConfig(**{**CFG.to_dict(), "recipes": ["proper", "cheap"], "answer_recipe": "proper"})
    m = MetaPredictor(cfg)
    recipe = m.recipe_ids(["proper", "cheap"], 2)
    assert recipe.tolist() == [0, 1]
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    for _ in range(200):
        out = m.loss(x, mask, nt, y, idx, recipe)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    with torch.no_grad():
        p = m(m.embed_dataset(x, mask), nt, idx, recipe)
        answer = m(m.embed_dataset(x[:1], mask[:1]), nt[:8], torch.zeros(8, dtype=torch.long))
    assert kendall_tau(p[:8], y[:8]) == 1.0 and kendall_tau(p[8:], y[8:]) == 1.0
    assert kendall_tau(answer, y[:8]) == 1.0  # no recipe given: the answer recipe's ranking
    with pytest.raises(ValueError, match="not in model.recipes"):
        m.recipe_ids(["mini"], 1)


def test_prior_is_a_lookup_carried_in_the_state_dict():
    from metad2a.models.cell_prior import CellPrior, cell_code
    from metad2a.space import NUM_CELLS

    archs = all_archs()
    nt = encode_archs(archs)
    codes = cell_code(nt)
    assert sorted(codes.tolist()) == list(range(NUM_CELLS))  # one code per cell, closed form
    acc = torch.arange(len(archs), dtype=torch.float32) % 97
    prior = CellPrior().fit(nt[:1000], acc[:1000])
    assert torch.equal(prior.accuracy(nt[:1000]), acc[:1000])
    assert torch.allclose(prior.accuracy(nt[1000:1003]), acc[:1000].mean().expand(3))  # unknown cells: the mean
    m = MetaPredictor(CFG)
    m.prior.fit(nt[:1000], acc[:1000])
    twin = MetaPredictor(CFG)
    twin.load_state_dict(m.state_dict())
    assert torch.equal(twin.prior.table, m.prior.table) and twin.prior.fitted


def test_the_prior_alone_ranks_like_its_table():
    """With the residual heads zeroed, the predictor's ranking is the table's (scale > 0)."""
    torch.manual_seed(0)
    archs = all_archs()[::300]
    nt = encode_archs(archs)
    table = torch.randn(len(archs))
    m = MetaPredictor(CFG)
    m.prior.fit(nt, table)
    for head in (m.head, m.recipe_head):
        torch.nn.init.zeros_(head[-1].weight)
        torch.nn.init.zeros_(head[-1].bias)
    torch.nn.init.zeros_(m.base[-1].weight)
    m.base[-1].bias.data = torch.tensor([0.3, 0.05])  # level, scale
    x, mask = pad_features([torch.randn(3, 4, 8)])
    with torch.no_grad():
        p = m(m.embed_dataset(x, mask), nt, torch.zeros(len(archs), dtype=torch.long))
    assert kendall_tau(p, table) == 1.0
    no_prior = MetaPredictor(ModelConfig(**{**CFG.to_dict(), "prior": False}))
    assert not hasattr(no_prior, "prior")


def test_answers_for_the_reference_dataset_and_the_agnostic_twin_are_the_prior():
    """Anchoring: at the prior's own dataset, and for the twin everywhere, the proper-training
    answer ranks cells exactly as the table does, whatever the (random) residual heads hold."""
    torch.manual_seed(0)
    archs = all_archs()[::300]
    nt = encode_archs(archs)
    table = torch.randn(len(archs))
    ref, other = torch.randn(1, 3, 4, 8), torch.randn(1, 3, 4, 8) + 1.0
    idx = torch.zeros(len(archs), dtype=torch.long)
    for agnostic in (False, True):
        m = MetaPredictor(CFG, agnostic=agnostic).eval()
        m.prior.fit(nt, table)
        torch.nn.init.zeros_(m.base[-1].weight)
        m.base[-1].bias.data = torch.tensor([0.0, 0.01])  # a small positive scale: the residual can move cells
        m.set_reference(ref)
        with torch.no_grad():
            at_ref = m(m.embed_dataset(ref), nt, idx)
            elsewhere = m(m.embed_dataset(other), nt, idx)
            cheap = m(m.embed_dataset(ref), nt, idx, m.recipe_ids(["truth"], 1))
        assert kendall_tau(at_ref, table) == 1.0
        assert (kendall_tau(elsewhere, table) == 1.0) == agnostic  # only the conditioned model moves
        assert kendall_tau(cheap, table) < 1.0  # a cheaper recipe's correction applies to both
