"""Which pieces generate builds, and the checks that they fit together (stub objects, no checkpoints)."""

from __future__ import annotations

import pytest

from metad2a.errors import CheckpointError, MetaD2AError
from metad2a.generation.components import (check_feature_dims, checkpoint_provenance, extractor_name,
                                           instantiate_scorer, reads_features)
from metad2a.predictors.ensemble import EnsembleScorer


class Meta:
    name, feat_dim, feature_extractor, path = "meta", 1280, "efficientnet_lite0", "p.pt"
    checkpoint = {"data_fingerprint": "abc", "code_version": {"metad2a": "0"}, "epoch": 3}

    def score(self, archs, dataset=None):
        return [0.0] * len(archs)


class Naswot:
    name = "naswot"

    def score(self, archs, dataset=None):
        return [0.0] * len(archs)


class Extractor:
    name, dim = "efficientnet_lite0", 1280


def test_reads_features_looks_into_ensembles():
    assert reads_features(Meta()) and not reads_features(Naswot()) and not reads_features(None)
    assert reads_features(EnsembleScorer([Naswot(), Meta()])) and not reads_features(EnsembleScorer([Naswot()]))


def test_extractor_name_and_dims_must_agree():
    other = Meta()
    other.feature_extractor = "resnet18"
    assert extractor_name(Meta(), None) == "efficientnet_lite0" and extractor_name(Naswot()) == "efficientnet_lite0"
    with pytest.raises(CheckpointError, match="expect different features"):
        extractor_name(Meta(), other)
    check_feature_dims(Extractor(), predictor=Meta(), generator=None)
    small = Meta()
    small.feat_dim = 512
    with pytest.raises(CheckpointError, match="member meta checkpoint p.pt expects 512-d features"):
        check_feature_dims(Extractor(), predictor=EnsembleScorer([Naswot(), small]))


def test_provenance_lists_every_checkpoint():
    prov = checkpoint_provenance(predictor=EnsembleScorer([Meta(), Naswot()]), generator=Meta())
    assert set(prov) == {"predictor.meta", "generator"} and prov["generator"]["data_fingerprint"] == "abc"


def test_instantiate_unwraps_our_errors_and_names_foreign_ones():
    from omegaconf import OmegaConf

    with pytest.raises(MetaD2AError, match="unknown ensemble combine 'max'") as e:
        instantiate_scorer(OmegaConf.create({"_target_": "metad2a.predictors.ensemble.EnsembleScorer", "combine": "max",
                                             "members": [{"_target_": "metad2a.predictors.naswot.NASWOTScorer"}]}))
    assert "Error in call to target" not in str(e.value)
    with pytest.raises(MetaD2AError, match="cannot build predictor metad2a.predictors.naswot.NASWOTScorer"):
        instantiate_scorer(OmegaConf.create({"_target_": "metad2a.predictors.naswot.NASWOTScorer", "bogus": 1}))
