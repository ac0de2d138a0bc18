"""NAAP-440-style learning-curve predictor: feature builders, scorer, config."""

import csv
from pathlib import Path

import numpy as np
import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf

from metad2a.errors import DataError, MetaD2AError
from metad2a.predictors import Scorer
from metad2a.predictors.learning_curve import (
    LearningCurveScorer, curve_features, final_values, first_fraction, naap440_features, naap440_is_test,
    naap440_scheme_columns, naap440_target, nb201_curve_features, own_curve_features, read_csv_rows,
)
from metad2a.space import all_archs

REPO = Path(__file__).resolve().parents[2]
STATS = ("LossMean", "LossMedian", "Accuracy")
ARCHS = all_archs()[::997][:12]


def write_naap_csv(path: Path, n: int = 4, epochs: int = 3, extra_scheme: bool = False) -> Path:
    """A tiny NAAP-440-shaped CSV: value = model * 100 + epoch * 10 + stat index."""
    scheme = ["NumParams", "NumMACs"] + (["NumSkipConnections"] if extra_scheme else [])
    header = ["ModelId", "IsTest"] + scheme + ["MaxAccuracy"] + [f"e{e}{s}" for e in range(1, epochs + 1) for s in STATS]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for m in range(n):
            row = [m + 1, int(m == n - 1)] + [1000 * (m + 1) + j for j in range(len(scheme))] + [0.5 + m / 100]
            row += [m * 100 + e * 10 + i for e in range(1, epochs + 1) for i in range(len(STATS))]
            w.writerow(row)
    return path


def test_naap_features_columns_and_values(tmp_path):
    rows = read_csv_rows(write_naap_csv(tmp_path / "naap.csv"))
    X, cols = naap440_features(rows, k=2)
    assert cols == ["NumParams", "NumMACs", "e1LossMean", "e1LossMedian", "e1Accuracy",
                    "e2LossMean", "e2LossMedian", "e2Accuracy"]
    assert X.shape == (4, 2 + 2 * 3)
    np.testing.assert_array_equal(X[1], [2000, 2001, 110, 111, 112, 120, 121, 122])
    np.testing.assert_allclose(naap440_target(rows), [0.5, 0.51, 0.52, 0.53])
    assert naap440_is_test(rows).tolist() == [False, False, False, True]


def test_naap_feature_subsets_and_v2_scheme(tmp_path):
    rows = read_csv_rows(write_naap_csv(tmp_path / "v2.csv", extra_scheme=True))
    assert naap440_scheme_columns(list(rows[0])) == ["NumParams", "NumMACs", "NumSkipConnections"]
    X, cols = naap440_features(rows, k=3, stats=("Accuracy",), scheme=False)
    assert cols == ["e1Accuracy", "e2Accuracy", "e3Accuracy"] and X.shape == (4, 3)


def test_naap_k_beyond_the_file_raises(tmp_path):
    rows = read_csv_rows(write_naap_csv(tmp_path / "naap.csv", epochs=3))
    with pytest.raises(DataError, match="k=4"):
        naap440_features(rows, k=4)


def test_curve_features_shapes_and_names():
    curves = [list(np.linspace(10, 90, 30) + i) for i in range(len(ARCHS))]
    X, names = nb201_curve_features(ARCHS, curves, k=5)
    assert X.shape == (12, 5 + 5) and names[:5] == ["count_none", "count_skip_connect", "count_nor_conv_1x1",
                                                    "count_nor_conv_3x3", "count_avg_pool_3x3"]
    assert names[5:] == [f"valid_acc_e{e}" for e in range(1, 6)]
    assert (X[:, :5].sum(1) == 6).all()
    np.testing.assert_allclose(X[3, 5:], curves[3][:5])
    X2, names2 = nb201_curve_features(ARCHS, curves, k=5, train_acc_curves=curves)
    assert X2.shape == (12, 15) and names2[-1] == "train_acc_e5"


def test_own_curve_features_take_loss_then_accuracy():
    loss = [[2.0, 1.5, 1.2, 1.0]] * 3
    acc = [[30.0, 40.0, 50.0, 55.0 + i] for i in range(3)]
    X, names = own_curve_features(ARCHS[:3], loss, acc, k=2)
    assert X.shape == (3, 5 + 4)
    assert names[5:] == ["train_loss_e1", "train_loss_e2", "test_acc_e1", "test_acc_e2"]
    np.testing.assert_allclose(X[0, 5:], [2.0, 1.5, 30.0, 40.0])
    np.testing.assert_allclose(final_values(acc), [55, 56, 57])
    assert first_fraction(200) == 20 and first_fraction(12) == 1 and first_fraction(3) == 1


def test_curve_features_reject_short_or_mismatched_curves():
    with pytest.raises(DataError, match="shorter than k=5"):
        curve_features(ARCHS[:2], {"valid_acc": [[1, 2, 3, 4, 5], [1, 2]]}, k=5)
    with pytest.raises(DataError, match="one curve per arch"):
        curve_features(ARCHS[:2], {"valid_acc": [[1, 2, 3]]}, k=2)


def synthetic_curves(n: int, seed: int = 0):
    """Saturating curves whose plateau is the target, so early epochs carry the ranking."""
    rng = np.random.default_rng(seed)
    archs = all_archs()[::131][:n]
    plateau = rng.uniform(50, 90, n)
    epochs = np.arange(1, 41)
    curves = {a: {"valid_acc": list(p * (1 - np.exp(-epochs / 8)) + rng.normal(0, 0.3, 40))}
              for a, p in zip(archs, plateau)}
    return archs, curves, dict(zip(archs, plateau))


def test_scorer_fits_and_ranks_held_out_cells():
    archs, curves, targets = synthetic_curves(60)
    train, test = archs[:40], archs[40:]
    scorer = LearningCurveScorer(k=5, n_estimators=30, seed=0)
    assert isinstance(scorer, Scorer)
    scorer.fit({a: curves[a] for a in train}, {a: targets[a] for a in train})
    scorer.observe({a: {"valid_acc": curves[a]["valid_acc"][:5]} for a in test})  # partial curves suffice
    s = scorer.score(test)
    assert s.shape == (20,)
    assert np.corrcoef(s, [targets[a] for a in test])[0, 1] > 0.8


def test_scorer_errors_are_actionable():
    archs, curves, targets = synthetic_curves(10)
    scorer = LearningCurveScorer(k=5, n_estimators=5)
    with pytest.raises(MetaD2AError, match="not fitted"):
        scorer.score(archs)
    scorer.fit(curves, targets)
    with pytest.raises(DataError, match="observe"):
        scorer.score([all_archs()[1]])


def test_config_instantiates_the_scorer():
    cfg = OmegaConf.load(REPO / "conf" / "predictor" / "learning_curve.yaml")
    scorer = instantiate(cfg)
    assert isinstance(scorer, LearningCurveScorer) and isinstance(scorer, Scorer)
    assert scorer.k == 20 and scorer.curve_names == ("valid_acc",) and scorer.forest.n_estimators == 200


@pytest.mark.parametrize("name,n_scheme", [("naap440.csv", 6), ("naap440v2.csv", 8)])
def test_real_naap440_files(shared_data, name, n_scheme):
    rows = read_csv_rows(shared_data / "naap440" / name)
    X, cols = naap440_features(rows, k=9)
    assert X.shape == (440, n_scheme + 27) and cols[n_scheme] == "e1LossMean"
    assert naap440_is_test(rows).sum() == 40
    assert np.isfinite(X).all()
