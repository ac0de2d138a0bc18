import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Tiny models: one intra-op thread is faster, and pytest -n 2 already uses both cores."""
    torch.set_num_threads(1)
