import pytest
import torch

from metad2a.errors import CheckpointError
from metad2a.models.checkpoint import GENERATOR_FILE, LAST_FILE, PREDICTOR_FILE, code_version, load_generator, load_predictor
from metad2a.training.checkpointing import data_fingerprint
from metad2a.training.meta_train import meta_train
from tests.training.tiny import tiny_model_config, tiny_tasks, tiny_trainer_config, train_tiny


def test_exports_carry_provenance_and_load_weights_only(tmp_path):
    train_tiny(tmp_path)
    for name in (GENERATOR_FILE, PREDICTOR_FILE, LAST_FILE):
        ck = torch.load(tmp_path / name, weights_only=True)
        assert ck["format"] == "metad2a-checkpoint"
        assert ck["data_fingerprint"] == data_fingerprint(tiny_tasks())
        assert ck["code_version"]["metad2a"] == code_version()["metad2a"]
        assert "model" in ck["config"] and "trainer" in ck["config"]
    vae, _ = load_generator(tmp_path / GENERATOR_FILE)
    pred, ck = load_predictor(tmp_path / PREDICTOR_FILE)
    assert not vae.training and not pred.agnostic and "val_kendall" in ck["metrics"]
    # The exported predictor carries its cell table, computed from the exported weights.
    assert torch.equal(ck["cell_table"], pred.tabulate_cells())
    assert "cell_table" not in torch.load(tmp_path / GENERATOR_FILE, weights_only=True)


def test_fingerprint_changes_with_any_accuracy():
    tasks = tiny_tasks()
    before = data_fingerprint(tasks)
    tasks[3].accs[0] += 0.01
    assert data_fingerprint(tasks) != before and data_fingerprint(tasks[::-1]) == data_fingerprint(tasks)


def test_resume_continues_exactly(tmp_path):
    """A run stopped after its first epoch (time limit) and resumed ends exactly where a straight run
    does, across the switch from the predictor phase to the generator phase."""
    tasks = tiny_tasks()
    straight = train_tiny(tmp_path / "a", tasks, epochs=2)
    stopped = train_tiny(tmp_path / "b", tasks, epochs=2, time_limit_min=1e-6)
    assert stopped.epochs_run == 1
    resumed = meta_train(tasks, tiny_model_config(), tiny_trainer_config(epochs=2, resume=True), tmp_path / "b")
    assert resumed.epochs_run == 2 and len(resumed.history) == 3 and "gen/loss" in resumed.history[-1]
    a = torch.load(tmp_path / "a" / LAST_FILE, weights_only=True)["states"]
    b = torch.load(tmp_path / "b" / LAST_FILE, weights_only=True)["states"]
    for model in a:
        for k in a[model]:
            assert torch.allclose(a[model][k], b[model][k], atol=1e-6), (model, k)
    assert straight.history[1]["predictor/loss"] == pytest.approx(resumed.history[1]["predictor/loss"], rel=1e-5)
    assert straight.history[-1]["gen/loss"] == pytest.approx(resumed.history[-1]["gen/loss"], rel=1e-5)
    # a finished run resumes to a no-op
    again = meta_train(tasks, tiny_model_config(), tiny_trainer_config(epochs=2, resume=True), tmp_path / "b")
    assert again.epochs_run == 0


def test_resume_refuses_other_data_or_model(tmp_path):
    train_tiny(tmp_path, tiny_tasks())
    with pytest.raises(CheckpointError, match="different data") as e:
        meta_train(tiny_tasks(seed=1), tiny_model_config(), tiny_trainer_config(epochs=2, resume=True), tmp_path)
    assert "trainer.resume=false" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(CheckpointError, match="different model config"):
        meta_train(tiny_tasks(), tiny_model_config(rank_loss="listnet"), tiny_trainer_config(epochs=2, resume=True),
                   tmp_path)
