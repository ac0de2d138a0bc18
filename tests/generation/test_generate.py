"""generate end to end: a tiny image folder, the no-argument example, the JSON schema, the model file."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from metad2a.data import load_images
from metad2a.features.extractor import FeatureExtractor
from metad2a.generation.app import generate, generate_main
from metad2a.generation.model_file import load_model_file
from metad2a.generation.pipeline import scorer_images
from metad2a.predictors.base import DatasetSample
from metad2a.predictors.graf import GRAFScorer
from metad2a.predictors.naswot import NASWOTScorer
from metad2a.space import canonical_form, parse
from metad2a.space.network import build_model, count_flops, count_params
from tests.generation.conftest import REPO, gen_config, make_folder

STAGES = ("setup", "load_images", "features", "generate", "score", "rank", "write", "total")


def run_script(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "generate.py"), *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


def count_backbone_calls(monkeypatch) -> list[int]:
    """A list that gets, per backbone call, the number of images embedded (cache hits add nothing)."""
    computed: list[int] = []
    real = FeatureExtractor._compute

    def spy(self, images, progress):
        computed.append(len(images))
        return real(self, images, progress)

    monkeypatch.setattr(FeatureExtractor, "_compute", spy)
    return computed


def check_schema(doc: dict, num_classes: int, top_k: int) -> None:
    """The public JSON fields and their types (issue 5)."""
    assert {"ranked", "dataset", "timings_s", "generator", "config"} <= set(doc)
    assert 1 <= len(doc["ranked"]) <= top_k
    for row in doc["ranked"]:
        assert set(row) == {"arch", "predicted_accuracy", "params", "flops"}
        parse(row["arch"])
        assert isinstance(row["predicted_accuracy"], float)
        assert isinstance(row["params"], int) and row["params"] > 0 and isinstance(row["flops"], int)
    scores = [r["predicted_accuracy"] for r in doc["ranked"]]
    assert scores == sorted(scores, reverse=True)
    assert len({canonical_form(r["arch"]) for r in doc["ranked"]}) == len(doc["ranked"])
    assert {"name", "num_classes", "images_used"} <= set(doc["dataset"])
    assert doc["dataset"]["num_classes"] == num_classes and doc["dataset"]["images_used"] > 0
    assert set(STAGES) <= set(doc["timings_s"]) and all(v >= 0 for v in doc["timings_s"].values())
    assert doc["timings_s"]["total"] >= sum(v for k, v in doc["timings_s"].items() if k != "total") - 0.05
    g = doc["generator"]
    assert set(g) == {"sampled", "valid", "unique"} and g["sampled"] >= g["valid"] >= g["unique"] >= 1
    assert doc["config"]["top_k"] == top_k and "predictor" in doc["config"]


def test_tiny_folder_end_to_end_writes_json_and_a_loadable_model(tmp_path):
    data = make_folder(tmp_path / "ds", classes=3, per_class=6)
    cfg = gen_config(tmp_path, f"data.path={data}", "top_k=5", "num_samples=20")
    outcome = generate(cfg)
    doc = json.loads(outcome.json_path.read_text())
    check_schema(doc, num_classes=3, top_k=5)
    assert doc["dataset"]["name"] == "ds" and doc["dataset"]["images_used"] == 18
    assert doc["generator"]["sampled"] == 20 and doc["predictor"] == "meta"
    assert doc["dataset"]["class_names"] == ["c0", "c1", "c2"]
    assert doc["checkpoints"]["predictor"]["data_fingerprint"] and doc["checkpoints"]["generator"]["path"]
    # params/FLOPs are those of the network the model file holds
    best = doc["ranked"][0]
    net = build_model(best["arch"], 3)
    assert (best["params"], best["flops"]) == (count_params(net), count_flops(net, (3, 32, 32)))

    model = load_model_file(outcome.model_path)  # the documented one-liner
    assert model.arch == best["arch"] and model.num_classes == 3
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 32, 32)).shape == (2, 3)
    assert doc["model_file"] == str(outcome.model_path)


def test_same_seed_same_result_and_train_subfolder_is_found(tmp_path, monkeypatch):
    make_folder(tmp_path / "ds" / "train", classes=2, per_class=4)
    make_folder(tmp_path / "ds" / "test" / "extra", classes=1, per_class=2)  # ignored: train/ wins
    computed = count_backbone_calls(monkeypatch)
    docs = []
    for i in range(2):
        cfg = gen_config(tmp_path / str(i), f"data.path={tmp_path / 'ds'}", "top_k=3", "num_samples=10")
        docs.append(generate(cfg).result)
    assert docs[0].dataset["num_classes"] == 2 and docs[0].dataset["images_used"] == 8
    assert [c.arch for c in docs[0].ranked] == [c.arch for c in docs[1].ranked]
    assert [c.predicted_accuracy for c in docs[0].ranked] == [c.predicted_accuracy for c in docs[1].ranked]
    assert docs[0].dataset["fingerprint"] == docs[1].dataset["fingerprint"]
    assert computed == [8]  # the second run read all 8 feature vectors from the cache
    assert len(list((tmp_path / "cache" / "features").rglob("*.npy"))) == 1


def test_feature_cache_off_computes_every_time(tmp_path, monkeypatch):
    data = make_folder(tmp_path / "ds", classes=2, per_class=3)
    computed = count_backbone_calls(monkeypatch)
    for i in range(2):
        generate(gen_config(tmp_path / str(i), f"data.path={data}", "top_k=2", "num_samples=4", "features.cache=false"))
    assert computed == [6, 6] and not (tmp_path / "cache" / "features").exists()


@pytest.mark.parametrize("fmt", ["npz", "idx"])
def test_array_formats(tmp_path, fmt):
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 255, size=(12, 16, 16), dtype=np.uint8), np.repeat([3, 7, 9], 4)  # grey NHW
    if fmt == "npz":
        np.savez(tmp_path / "set.npz", x=x, y=y)
        path = tmp_path / "set.npz"
    else:
        path = tmp_path / "idx"
        path.mkdir()
        for name, arr in (("set-images-idx3-ubyte", x), ("set-labels-idx1-ubyte", y.astype(np.uint8))):
            header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
            (path / name).write_bytes(header + arr.tobytes())
    cfg = gen_config(tmp_path, f"data.path={path}", f"data.format={fmt}", "top_k=2", "num_samples=5")
    r = generate(cfg).result
    assert r.dataset["num_classes"] == 3 and r.dataset["images_used"] == 12 and len(r.ranked) == 2
    assert r.dataset["class_names"] == ["3", "7", "9"]


def test_exhaustive_search_scores_every_unique_cell(tmp_path):
    data = make_folder(tmp_path / "ds", classes=2, per_class=3)
    r = generate(gen_config(tmp_path, f"data.path={data}", "search=exhaustive", "top_k=3")).result
    assert r.generator == {"sampled": 0, "valid": 6466, "unique": 6466} and len(r.ranked) == 3


def test_cli_prints_table_and_paths(tmp_path, meta_data):
    """Paths as users have them (non-ASCII, commas, '=', brackets, quotes) need no quoting for Hydra."""
    odd = tmp_path / "猫 a,b=(1)[x] it's"
    data = make_folder(odd / "ds", classes=2, per_class=3)
    out = run_script(tmp_path, f"data={data}", "top_k=3", "num_samples=10", f"output={odd / 'r.json'}",
                     env={"METAD2A_META_DATA": str(meta_data), "METAD2A_CACHE": str(tmp_path / "cache")})
    assert out.returncode == 0, out.stderr[-2000:]
    assert "pred. acc" in out.stdout and f"result: {odd / 'r.json'}" in out.stdout
    assert "load_model_file" in out.stdout and "Traceback" not in out.stderr
    doc = json.loads((odd / "r.json").read_text())
    assert doc["dataset"]["num_classes"] == 2 and doc["dataset"]["path"] == str(data)
    assert (odd / "best_model.pt").is_file()
    # the terminal says which training the predicted accuracy answers for, as the JSON's scale does
    assert doc["scale"] == "nb201-200ep" and "200-epoch training on ImageNet16-120" in out.stdout


def test_no_argument_example_runs_in_the_hydra_run_dir(tmp_path, meta_data):
    """``python generate.py`` with no arguments: scikit-learn digits written to $METAD2A_CACHE, no network."""
    cache = tmp_path / "cache"
    out = run_script(tmp_path, env={"METAD2A_META_DATA": str(meta_data), "METAD2A_CACHE": str(cache)})
    assert out.returncode == 0, out.stderr[-2000:]
    assert "built-in example dataset (sklearn-digits" in out.stdout
    assert "sklearn-digits: 10 classes, 200 images used" in out.stdout
    assert len(list((cache / "examples" / "sklearn-digits").glob("*/*.png"))) == 1797
    results = list((tmp_path / "outputs").rglob("generate.json"))  # Hydra's run dir under the cwd
    assert len(results) == 1 and (results[0].parent / "best_model.pt").is_file()
    check_schema(json.loads(results[0].read_text()), num_classes=10, top_k=10)


def test_generate_main_returns_zero_and_prints(tmp_path, capsys):
    data = make_folder(tmp_path / "ds", classes=2, per_class=3)
    assert generate_main(gen_config(tmp_path, f"data.path={data}", "top_k=2", "num_samples=5")) == 0
    printed = capsys.readouterr().out
    assert "ds: 2 classes, 6 images used" in printed and "generator: 5 sampled" in printed


def _scores(r) -> list[float]:
    return [c.predicted_accuracy for c in r.ranked]


def test_naswot_through_generate_scores_the_users_images(tmp_path):
    """generate's NASWOT scores are the unit-level NASWOT of each cell on the user's own images."""
    data = make_folder(tmp_path / "ds", classes=2, per_class=4)
    r = generate(gen_config(tmp_path, f"data.path={data}", "predictor=naswot", "top_k=5", "num_samples=12",
                            "predictor.C=4", "predictor.N=1", "predictor.batch_size=8")).result
    assert r.predictor == "naswot" and len(r.ranked) == 5
    images = load_images(data, size=64, max_per_class=20)
    sample = DatasetSample(num_classes=2, images=scorer_images(images.images, 32))
    archs = [c.arch for c in r.ranked]
    assert _scores(r) == pytest.approx(NASWOTScorer(batch_size=8, C=4, N=1).score(archs, sample).tolist(), rel=1e-9)
    assert len(set(_scores(r))) > 1 and all(np.isfinite(_scores(r)))
    # another dataset gives other scores: the images really reach the scorer
    other = DatasetSample(num_classes=2, images=torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
    assert NASWOTScorer(batch_size=8, C=4, N=1).score(archs, other).tolist() != pytest.approx(_scores(r), rel=1e-6)


def test_graf_through_generate_matches_a_forest_fitted_on_the_store(tmp_path, meta_data):
    data = make_folder(tmp_path / "ds", classes=2, per_class=3)
    r = generate(gen_config(tmp_path, f"data.path={data}", "predictor=graf", "top_k=5", "num_samples=20",
                            "predictor.n_estimators=5")).result
    assert r.predictor == "graf" and len(r.ranked) == 5
    graf = GRAFScorer(n_estimators=5, fit_db=meta_data / "meta-train.sqlite", seed=0)
    assert _scores(r) == pytest.approx(graf.score([c.arch for c in r.ranked]).tolist(), rel=1e-9)
    assert len(set(_scores(r))) > 1


def test_agnostic_predictor_through_generate(tmp_path, meta_data):
    data = make_folder(tmp_path / "ds", classes=2, per_class=4)
    r = generate(gen_config(tmp_path, f"data.path={data}", "predictor=agnostic", "top_k=2", "num_samples=4",
                            f"predictor.checkpoint={meta_data / 'checkpoints' / 'predictor_agnostic.pt'}")).result
    assert r.predictor == "meta_agnostic" and len(r.ranked) >= 1 and all(np.isfinite(_scores(r)))
    assert r.checkpoints["predictor"]["path"].endswith("predictor_agnostic.pt")


def test_ensemble_through_generate(tmp_path):
    data = make_folder(tmp_path / "ds", classes=2, per_class=3)
    r = generate(gen_config(tmp_path, f"data.path={data}", "predictor=ensemble", "top_k=3", "num_samples=10",
                            "predictor.members.1.n_estimators=5")).result
    assert r.predictor == "ensemble" and len(r.ranked) == 3
    assert all(0.0 <= s <= 1.0 for s in _scores(r)) and len(set(_scores(r))) > 1
    assert set(r.checkpoints) == {"generator", "predictor.meta"}


def test_graf_in16_through_generate(tmp_path, shared_data, monkeypatch):
    monkeypatch.setenv("METAD2A_SHARED_DATA", str(shared_data))
    data = make_folder(tmp_path / "ds", classes=2, per_class=3)
    r = generate(gen_config(tmp_path, f"data.path={data}", "predictor=graf_in16", "top_k=3", "num_samples=10",
                            "predictor.n_estimators=5", "predictor.fit_cells=64")).result
    assert r.predictor == "graf_in16" and len(r.ranked) == 3
