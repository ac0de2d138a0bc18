"""The generator's distilled targets, its dependence on the dataset, and the meta-test guard."""

import numpy as np
import pytest
import torch

from metad2a.database.task_data import TaskData
from metad2a.database.tasks import MetaTestLeakError
from metad2a.models import GraphVAE, MetaPredictor, encode_archs, pad_features
from metad2a.models.graph_decoder import types_to_archs
from metad2a.space import all_archs, canonical_form
from metad2a.training.distill import CellBank, bank_scores, class_subset_features, recall_at, top_targets
from metad2a.training.meta_train import meta_train
from tests.training.tiny import tiny_model_config, tiny_tasks, tiny_trainer_config


def test_top_targets_are_the_best_scores_weighted_by_their_gap():
    scores = torch.tensor([50.0, 60.0, 59.0, 10.0, 57.0])
    idx, w = top_targets(scores, 3, temperature=1.0)
    assert idx.tolist() == [1, 2, 4]
    assert w.sum().item() == pytest.approx(1.0)
    assert (w[0] / w[1]).item() == pytest.approx(np.e) and (w[0] / w[2]).item() == pytest.approx(np.e ** 3)


def test_class_subsets_vary_the_dataset_within_bounds():
    f = torch.arange(10 * 6 * 2, dtype=torch.float32).reshape(10, 6, 2)
    gen = torch.Generator().manual_seed(0)
    shapes = {tuple(class_subset_features(f, gen, 4).shape) for _ in range(50)}
    assert {s[1:] for s in shapes} == {(4, 2)} and {s[0] for s in shapes} <= set(range(5, 11))
    assert len({s[0] for s in shapes}) > 2  # the class count really varies
    two = torch.zeros(2, 3, 2)
    assert class_subset_features(two, gen, 5).shape == (2, 3, 2)  # never fewer than 2 classes


def test_bank_scores_match_the_predictor_cell_by_cell():
    cfg = tiny_model_config()
    m = MetaPredictor(cfg).eval()
    archs = all_archs()[::500]
    bank = CellBank.build(m, archs)
    x, mask = pad_features([torch.randn(3, 2, cfg.feat_dim)])
    with torch.no_grad():
        direct = 100 * m(m.embed_dataset(x, mask), encode_archs(archs), torch.zeros(len(archs), dtype=torch.long))
    assert torch.allclose(bank_scores(m, bank, x, mask)[0], direct, atol=1e-4)


def test_recall_counts_the_predictors_top_cells_among_samples():
    cfg = tiny_model_config()
    m = MetaPredictor(cfg).eval()
    vae = GraphVAE(cfg).eval()
    bank = CellBank.build(m, all_archs()[::50])
    f = torch.randn(3, 2, cfg.feat_dim)
    recall, best, drawn = recall_at(vae, m, bank, f, top=5, samples=100)
    got = {canonical_form(a) for a in drawn}
    assert len(best) == 5 and len(drawn) == 100
    assert recall == sum(canonical_form(a) in got for a in best) / 5


def test_the_generator_posterior_moves_with_the_dataset():
    """Two clearly different datasets whose good cells differ: after a few steps on them, q(z | D)
    and the samples differ between the two (the shipped v1 generator gave identical samples)."""
    torch.manual_seed(0)
    cfg = tiny_model_config(kl_weight=1e-3, gen_rank_weight=0.0)
    vae = GraphVAE(cfg)
    a = torch.randn(3, 4, cfg.feat_dim) + 3.0
    b = torch.randn(3, 4, cfg.feat_dim) - 3.0
    x, mask = pad_features([a, b])
    conv = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    pool = "|avg_pool_3x3~0|+|skip_connect~0|avg_pool_3x3~1|+|skip_connect~0|avg_pool_3x3~1|skip_connect~2|"
    targets = encode_archs([conv, pool])
    opt = torch.optim.Adam(vae.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(150):
        out = vae.loss(x, mask, targets, torch.tensor([0, 1]), torch.ones(2), generator=gen)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    vae.eval()
    mu, _ = vae.encode_dataset(x, mask)
    assert (mu[0] - mu[1]).norm() > 0.5
    sa = types_to_archs(vae.sample(a[None], 50, generator=torch.Generator().manual_seed(1)))
    sb = types_to_archs(vae.sample(b[None], 50, generator=torch.Generator().manual_seed(1)))
    assert sa.count(conv) > 25 and sb.count(pool) > 25 and sa != sb


def test_no_meta_test_task_reaches_a_meta_training_batch(tmp_path):
    tasks = tiny_tasks()
    for source in ("cifar100", "cifar10", "mnist", "fashion-mnist"):
        leak = TaskData(source, "train", tasks[0].features, tasks[0].archs, tasks[0].accs, source=source)
        with pytest.raises(MetaTestLeakError, match=source):
            meta_train([*tasks, leak], tiny_model_config(), tiny_trainer_config(), tmp_path / source)
    split = TaskData("x", "meta-test", tasks[0].features, tasks[0].archs, tasks[0].accs, source="synthetic")
    with pytest.raises(MetaTestLeakError):
        meta_train([*tasks, split], tiny_model_config(), tiny_trainer_config(), tmp_path / "split")
