import pytest
import torch

from metad2a.errors import CheckpointError
from metad2a.models import GraphVAE, MetaPredictor, ModelConfig
from metad2a.models.checkpoint import (code_version, load_checkpoint, load_generator, load_predictor, make_checkpoint,
                                       save_checkpoint)

CFG = ModelConfig(feat_dim=8, hidden_dim=16, latent_dim=8, heads=2, num_inducing=4, gnn_layers=2)


def saved(tmp_path, kind: str = "predictor", **model_config) -> str:
    torch.manual_seed(0)
    mc = CFG.to_dict() | model_config
    model = GraphVAE(CFG) if kind == "generator" else MetaPredictor(CFG, agnostic=bool(mc.get("agnostic")))
    path = tmp_path / f"{kind}.pt"
    save_checkpoint(path, make_checkpoint(kind, model_config=mc, config={"seed": 0}, data_fingerprint="abc",
                                          state_dict=model.state_dict(), epoch=1, metrics={"val_kendall": 0.5}))
    return path


def test_saved_files_load_weights_only_with_provenance(tmp_path):
    ck = torch.load(saved(tmp_path), weights_only=True)
    assert ck["format"] == "metad2a-checkpoint" and ck["kind"] == "predictor" and ck["data_fingerprint"] == "abc"
    assert ck["code_version"] == code_version() and ck["config"] == {"seed": 0}
    vae, _ = load_generator(saved(tmp_path, "generator"))
    pred, ck = load_predictor(saved(tmp_path, agnostic=True))
    assert not vae.training and not pred.training and pred.agnostic and ck["metrics"] == {"val_kendall": 0.5}


def test_round_trip_is_exact(tmp_path):
    pred, ck = load_predictor(saved(tmp_path))
    save_checkpoint(tmp_path / "copy.pt", ck)
    again, _ = load_predictor(tmp_path / "copy.pt")
    for (k, a), (_, b) in zip(pred.state_dict().items(), again.state_dict().items()):
        assert torch.equal(a, b), k


def one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_missing_checkpoint_says_how_to_rebuild(tmp_path):
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(tmp_path / "nope.pt")
    assert "python train.py" in one_line(e) and "nope.pt" in one_line(e)


class Evil:
    pass


@pytest.mark.parametrize("payload", [b"not a zip", "pickled-object", "foreign-dict", "old-version"])
def test_foreign_or_old_files_are_refused(tmp_path, payload):
    p = tmp_path / "bad.pt"
    if payload == b"not a zip":
        p.write_bytes(payload)
    elif payload == "pickled-object":
        torch.save({"x": Evil()}, p)  # weights_only=True refuses arbitrary classes
    elif payload == "foreign-dict":
        torch.save({"state_dict": {}}, p)
    else:
        torch.save({"format": "metad2a-checkpoint", "format_version": 0}, p)
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(p)
    assert "python train.py" in one_line(e)


def test_wrong_kind_and_incompatible_weights(tmp_path):
    with pytest.raises(CheckpointError, match="expected 'predictor'"):
        load_predictor(saved(tmp_path, "generator"))
    ck = load_checkpoint(saved(tmp_path))
    ck["model_config"]["hidden_dim"] = 24
    save_checkpoint(tmp_path / "mismatch.pt", ck)
    with pytest.raises(CheckpointError, match="does not match this code's model") as e:
        load_predictor(tmp_path / "mismatch.pt")
    one_line(e)
