"""The cell table: inference answers from precomputed cell encodings, exactly, and without PyG."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from metad2a.errors import CheckpointError
from metad2a.models import GraphVAE, MetaPredictor, ModelConfig, encode_archs, pad_features
from metad2a.models.cell_prior import cell_code
from metad2a.models.cell_table import CellTable, all_node_types
from metad2a.models.checkpoint import add_cell_table, load_generator, load_predictor, make_checkpoint, save_checkpoint
from metad2a.space import all_archs

CFG = ModelConfig(feat_dim=8, hidden_dim=16, latent_dim=8, heads=2, num_inducing=4, gnn_layers=2)
REPO = Path(__file__).resolve().parents[2]


def test_all_node_types_enumerates_every_cell_in_code_order():
    nt = all_node_types()
    assert nt.shape == (15625, 8)
    assert torch.equal(cell_code(nt), torch.arange(15625))
    assert torch.equal(nt[:, 0], torch.zeros(15625, dtype=torch.long)) and bool((nt[:, 7] == 6).all())
    assert sorted(map(tuple, encode_archs(all_archs()).tolist())) == sorted(map(tuple, nt.tolist()))


def test_cell_table_refuses_a_table_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"\(15625, dim\)"):
        CellTable(torch.zeros(100, 16))
    with pytest.raises(ValueError, match="hidden_dim=16"):
        MetaPredictor(CFG, cell_table=torch.zeros(15625, 32))


@pytest.mark.parametrize("cell_features", ["none", "graf"])
def test_a_predictor_built_on_its_table_scores_exactly_like_the_gnn(cell_features):
    torch.manual_seed(0)
    cfg = ModelConfig(**{**CFG.to_dict(), "cell_features": cell_features})
    full = MetaPredictor(cfg)
    table = full.tabulate_cells()
    assert full.training  # tabulating leaves the mode as it was
    full.eval()
    fast = MetaPredictor(cfg, cell_table=table).eval()
    assert not hasattr(fast, "graph_encoder") and not hasattr(fast, "cell_proj")
    state = {k: v for k, v in full.state_dict().items() if not k.startswith(("graph_encoder.", "cell_proj.", "cell_features."))}
    fast.load_state_dict(state | {"cell_table.table": table})
    nt = encode_archs(all_archs()[::97])
    x, mask = pad_features([torch.randn(3, 4, 8)])
    with torch.no_grad():
        emb = full.embed_dataset(x, mask)
        idx = torch.zeros(len(nt), dtype=torch.long)
        assert torch.equal(full(emb, nt, idx), fast(emb, nt, idx))


def _save_predictor(path: Path) -> MetaPredictor:
    torch.manual_seed(0)
    model = MetaPredictor(CFG).eval()
    save_checkpoint(path, make_checkpoint("predictor", model_config=CFG.to_dict() | {"agnostic": False}, config={},
                                          data_fingerprint="abc", state_dict=model.state_dict(), epoch=1, metrics={}))
    return model


def test_inference_load_uses_the_table_when_the_file_has_one_and_the_gnn_otherwise(tmp_path):
    path = tmp_path / "predictor.pt"
    model = _save_predictor(path)
    no_table, _ = load_predictor(path, inference=True)
    assert hasattr(no_table, "graph_encoder")  # an older file: the GNN, as before
    assert tuple(add_cell_table(path).shape) == (15625, 16)
    fast, ck = load_predictor(path, inference=True)
    full, _ = load_predictor(path)
    assert hasattr(fast, "cell_table") and hasattr(full, "graph_encoder") and ck["data_fingerprint"] == "abc"
    nt, emb = encode_archs(all_archs()[:50]), torch.randn(1, 16)
    idx = torch.zeros(50, dtype=torch.long)
    with torch.no_grad():
        assert torch.equal(fast(emb, nt, idx), model(emb, nt, idx))


def test_a_malformed_table_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "predictor.pt"
    _save_predictor(path)
    ck = torch.load(path, weights_only=True)
    save_checkpoint(path, ck | {"cell_table": torch.zeros(10, 16)})
    with pytest.raises(CheckpointError, match="add-cell-table"):
        load_predictor(path, inference=True)


def test_a_generator_without_its_graph_encoder_samples_the_same_cells(tmp_path):
    torch.manual_seed(0)
    vae = GraphVAE(CFG).eval()
    path = tmp_path / "generator.pt"
    save_checkpoint(path, make_checkpoint("generator", model_config=CFG.to_dict(), config={}, data_fingerprint="abc",
                                          state_dict=vae.state_dict(), epoch=1, metrics={}))
    light, _ = load_generator(path, inference=True)
    assert not hasattr(light, "graph_encoder") and not hasattr(light, "graph_head")
    x = torch.randn(1, 3, 4, 8)
    a = vae.sample(x, 20, generator=torch.Generator().manual_seed(1))
    b = light.sample(x, 20, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)


def test_the_cli_adds_a_table(tmp_path):
    path = tmp_path / "predictor.pt"
    _save_predictor(path)
    out = subprocess.run([sys.executable, "-m", "metad2a.models", "add-cell-table", str(path)], cwd=REPO,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "(15625, 16)" in out.stdout and "cell_table" in torch.load(path, weights_only=True)
    bad = subprocess.run([sys.executable, "-m", "metad2a.models", "add-cell-table", str(tmp_path / "none.pt")],
                         cwd=REPO, capture_output=True, text=True)
    assert bad.returncode == 1 and "no checkpoint at" in bad.stderr


def test_loading_for_generation_does_not_import_pyg(tmp_path):
    """PyG's import costs ~1.9 s of every generate.py run; the table and the light generator avoid it."""
    pred, gen = tmp_path / "predictor.pt", tmp_path / "generator.pt"
    _save_predictor(pred)
    add_cell_table(pred)
    save_checkpoint(gen, make_checkpoint("generator", model_config=CFG.to_dict(), config={}, data_fingerprint="abc",
                                         state_dict=GraphVAE(CFG).state_dict(), epoch=1, metrics={}))
    probe = (
        "import sys, torch\n"
        "from metad2a.predictors.meta import MetaGenerator, MetaPredictorScorer\n"
        "from metad2a.predictors.base import DatasetSample\n"
        f"s = MetaPredictorScorer({str(pred)!r}); g = MetaGenerator({str(gen)!r})\n"
        "f = torch.randn(3, 4, 8)\n"
        "cells = g.sample_cells(f, 10)\n"
        "print(len(s.score(cells, DatasetSample(features=f))), 'torch_geometric' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["10", "False"]
