from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from metad2a.errors import CheckpointError, DataError
from metad2a.predictors.base import DatasetSample, Scorer
from metad2a.predictors.meta import MetaGenerator, MetaPredictorScorer, sample_cells
from metad2a.space import parse
from metad2a.models.checkpoint import AGNOSTIC_FILE, GENERATOR_FILE, PREDICTOR_FILE
from metad2a.space.quality import sample_quality
from tests.training.tiny import FEAT_DIM, tiny_tasks, train_tiny

REPO_CONF = Path(__file__).resolve().parents[2] / "conf"


@pytest.fixture(scope="module")
def ckdir(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("meta")
    train_tiny(out)
    return out


@pytest.fixture(scope="module")
def feats():
    return tiny_tasks()[-1].features  # a test-split task, (C, N, D)


def test_scorer_protocol_and_scores(ckdir, feats):
    s = MetaPredictorScorer(ckdir / PREDICTOR_FILE)
    assert isinstance(s, Scorer) and s.name == "meta" and s.feat_dim == FEAT_DIM
    archs = tiny_tasks()[-1].archs
    out = s.score(archs, DatasetSample(features=torch.as_tensor(feats)))
    assert out.shape == (len(archs),) and np.isfinite(out).all()
    assert np.allclose(out, s.predict(archs, s.embed(feats)), atol=1e-5)
    assert s.embed(feats).shape == (s.model.cfg.hidden_dim,)


def test_scorer_refuses_bad_features(ckdir, feats):
    s = MetaPredictorScorer(ckdir / PREDICTOR_FILE)
    with pytest.raises(DataError, match="predictor=agnostic"):
        s.score(["|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"], None)
    with pytest.raises(DataError, match=f"expects {FEAT_DIM}"):
        s.embed(np.zeros((3, 2, FEAT_DIM + 1), np.float32))
    with pytest.raises(DataError, match="num_classes, n_per_class, D"):
        s.embed(np.zeros((3, FEAT_DIM), np.float32))


def test_agnostic_ignores_the_dataset(ckdir, feats):
    s = MetaPredictorScorer(ckdir / AGNOSTIC_FILE)
    archs = tiny_tasks()[0].archs
    assert s.name == "meta_agnostic"
    assert np.allclose(s.score(archs, None), s.score(archs, DatasetSample(features=feats)))


def test_predictor_configs_instantiate(ckdir):
    for name, file in (("meta", PREDICTOR_FILE), ("agnostic", AGNOSTIC_FILE)):
        cfg = OmegaConf.load(REPO_CONF / "predictor" / f"{name}.yaml")
        cfg.checkpoint = str(ckdir / file)
        assert isinstance(instantiate(cfg), MetaPredictorScorer)


def test_missing_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("METAD2A_META_DATA", str(tmp_path))
    with pytest.raises(CheckpointError, match="python train.py"):
        MetaPredictorScorer()
    with pytest.raises(CheckpointError, match="python train.py"):
        MetaGenerator()


def test_generator_samples_1000_valid_cells(ckdir, feats):
    gen = MetaGenerator(ckdir / GENERATOR_FILE)
    mu, logvar = gen.embed(feats)
    assert mu.shape == logvar.shape == (gen.model.cfg.latent_dim,)
    cells = gen.sample_cells(feats, 1000, seed=0)
    assert len(cells) == 1000 and all(len(parse(a)) == 6 for a in cells)
    assert sample_quality(cells, set())["validity"] == 1.0
    assert cells == gen.sample_cells(feats, 1000, seed=0)  # seeded
    uniq = gen.sample_cells(feats, 50, unique=True)
    assert len(uniq) == len(set(uniq)) == 50
    assert len(sample_cells(feats, 3, checkpoint=ckdir / GENERATOR_FILE)) == 3
