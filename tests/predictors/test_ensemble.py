"""EnsembleScorer with stub members: rank and z-score averaging, weights, ties, -inf, errors, Hydra config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from metad2a.errors import MetaD2AError
from metad2a.predictors.base import DatasetSample, Scorer
from metad2a.predictors.ensemble import EnsembleScorer, normalized_rank, zscore

CELLS = ["a", "b", "c", "d"]


class Fixed:
    """Scores cells from a table; records what it was called with."""

    def __init__(self, table: dict[str, float], name: str = "fixed", feature_extractor: str | None = None):
        self.table, self.name, self.calls = table, name, []
        if feature_extractor:
            self.feature_extractor = feature_extractor

    def score(self, archs, dataset=None):
        self.calls.append((list(archs), dataset))
        return np.array([self.table[a] for a in archs])


def test_rank_average_puts_the_consensus_first_whatever_the_scales():
    acc = Fixed({"a": 71.0, "b": 70.0, "c": 60.0, "d": 10.0}, "acc")  # % scale: a > b > c > d
    zc = Fixed({"a": 9e3, "b": 1e4, "c": 1.0, "d": -5.0}, "zc")  # huge scale: b > a > c > d
    ens = EnsembleScorer([acc, zc])
    s = ens.score(CELLS, DatasetSample(name="x"))
    assert s[0] == s[1] == pytest.approx(5 / 6) and s[2] == pytest.approx(1 / 3) and s[3] == 0.0
    assert isinstance(ens, Scorer) and ens.name == "ensemble"
    assert acc.calls[0][0] == CELLS and acc.calls[0][1].name == "x"  # members see the whole list and the dataset
    assert set(ens.last_member_scores) == {"acc", "zc"}


def test_weights_and_zscore():
    up = Fixed({"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}, "up")
    down = Fixed({"a": 4.0, "b": 3.0, "c": 2.0, "d": 1.0}, "down")
    s = EnsembleScorer([up, down], weights=[3, 1]).score(CELLS)
    assert list(np.argsort(-s)) == [3, 2, 1, 0]
    z = EnsembleScorer([up, down], combine="zscore").score(CELLS)
    assert np.allclose(z, 0.0)  # opposite members cancel exactly


def test_ties_non_finite_and_small_lists():
    assert normalized_rank(np.array([1.0, 1.0, 3.0])).tolist() == [0.25, 0.25, 1.0]
    r = normalized_rank(np.array([-np.inf, 0.5, np.nan, 2.0]))
    assert r[3] == 1.0 and r[1] > max(r[0], r[2])  # -inf and NaN rank below every finite score
    assert normalized_rank(np.array([5.0])).tolist() == [1.0] and len(normalized_rank(np.zeros(0))) == 0
    z = zscore(np.array([0.0, 1.0, -np.inf]))
    assert np.isfinite(z).all() and z[2] < z[0] < z[1]
    assert zscore(np.array([2.0, 2.0])).tolist() == [0.0, 0.0]


def test_duplicate_member_names_and_feature_extractor():
    ens = EnsembleScorer([Fixed({}, "m"), Fixed({}, "m", feature_extractor="efficientnet_lite0")])
    assert ens.member_names == ["m_0", "m_1"] and ens.feature_extractor == "efficientnet_lite0"


@pytest.mark.parametrize("kwargs,message", [
    ({"members": []}, "at least one member"),
    ({"combine": "median"}, "unknown ensemble combine 'median'"),
    ({"weights": [1.0]}, "must be 2 non-negative numbers"),
    ({"weights": [0.0, 0.0]}, "not all 0"),
])
def test_bad_configuration_is_one_line(kwargs, message):
    kw = {"members": [Fixed({}), Fixed({})]} | kwargs
    with pytest.raises(MetaD2AError, match=message):
        EnsembleScorer(**kw)


def test_member_returning_the_wrong_shape_is_refused():
    class Bad:
        name = "bad"

        def score(self, archs, dataset=None):
            return np.zeros(len(archs) + 1)

    with pytest.raises(MetaD2AError, match="ensemble member bad returned"):
        EnsembleScorer([Bad()]).score(CELLS)


def test_hydra_builds_the_members_from_the_config():
    conf = Path(__file__).resolve().parents[2] / "conf"
    with initialize_config_dir(str(conf), version_base="1.3"):
        cfg = compose("generate", overrides=["predictor=ensemble"])
    assert [m["_target_"].rsplit(".", 1)[1] for m in cfg.predictor.members] == ["MetaPredictorScorer", "GRAFScorer"]
    cfg.predictor.members = [{"_target_": "metad2a.predictors.naswot.NASWOTScorer", "C": 4, "N": 1},
                             {"_target_": "metad2a.predictors.graf.GRAFScorer", "n_estimators": 3}]
    ens = instantiate(cfg.predictor)
    assert isinstance(ens, EnsembleScorer) and ens.member_names == ["naswot", "graf"] and ens.combine == "rank"
