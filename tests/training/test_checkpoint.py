import pytest
import torch

from metad2a.errors import CheckpointError
from metad2a.training.checkpoint import (GENERATOR_FILE, LAST_FILE, PREDICTOR_FILE, code_version, data_fingerprint,
                                         load_checkpoint, load_generator, load_predictor, save_checkpoint)
from metad2a.training.meta_train import meta_train
from tests.training.tiny import tiny_model_config, tiny_tasks, tiny_trainer_config, train_tiny


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("ck")
    train_tiny(out)
    return out


def test_exports_carry_provenance_and_load_weights_only(run):
    for name in (GENERATOR_FILE, PREDICTOR_FILE, LAST_FILE):
        ck = torch.load(run / name, weights_only=True)
        assert ck["format"] == "metad2a-checkpoint"
        assert ck["data_fingerprint"] == data_fingerprint(tiny_tasks())
        assert ck["code_version"]["metad2a"] == code_version()["metad2a"]
        assert "model" in ck["config"] and "trainer" in ck["config"]
    vae, _ = load_generator(run / GENERATOR_FILE)
    pred, ck = load_predictor(run / PREDICTOR_FILE)
    assert not vae.training and not pred.agnostic and "val_kendall" in ck["metrics"]


def test_round_trip_is_exact(tmp_path, run):
    pred, ck = load_predictor(run / PREDICTOR_FILE)
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


def test_wrong_kind_and_incompatible_weights(tmp_path, run):
    with pytest.raises(CheckpointError, match="expected 'predictor'"):
        load_predictor(run / GENERATOR_FILE)
    ck = load_checkpoint(run / PREDICTOR_FILE)
    ck["model_config"]["hidden_dim"] = 24
    save_checkpoint(tmp_path / "mismatch.pt", ck)
    with pytest.raises(CheckpointError, match="does not match this code's model") as e:
        load_predictor(tmp_path / "mismatch.pt")
    one_line(e)


def test_resume_continues_exactly(tmp_path):
    tasks = tiny_tasks()
    straight = train_tiny(tmp_path / "a", tasks, epochs=2)
    train_tiny(tmp_path / "b", tasks, epochs=1)
    resumed = meta_train(tasks, tiny_model_config(), tiny_trainer_config(epochs=2, resume=True), tmp_path / "b")
    assert resumed.epochs_run == 1 and len(resumed.history) == 2
    a = torch.load(tmp_path / "a" / LAST_FILE, weights_only=True)["states"]
    b = torch.load(tmp_path / "b" / LAST_FILE, weights_only=True)["states"]
    for model in a:
        for k in a[model]:
            assert torch.allclose(a[model][k], b[model][k], atol=1e-6), (model, k)
    assert straight.history[-1]["predictor/loss"] == pytest.approx(resumed.history[-1]["predictor/loss"], rel=1e-5)
    # a finished run resumes to a no-op
    again = meta_train(tasks, tiny_model_config(), tiny_trainer_config(epochs=2, resume=True), tmp_path / "b")
    assert again.epochs_run == 0


def test_resume_refuses_other_data_or_model(tmp_path):
    train_tiny(tmp_path, tiny_tasks())
    with pytest.raises(CheckpointError, match="different data") as e:
        meta_train(tiny_tasks(seed=1), tiny_model_config(), tiny_trainer_config(epochs=2, resume=True), tmp_path)
    assert "trainer.resume=false" in one_line(e)
    with pytest.raises(CheckpointError, match="different model config"):
        meta_train(tiny_tasks(), tiny_model_config(rank_loss="listnet"), tiny_trainer_config(epochs=2, resume=True),
                   tmp_path)
