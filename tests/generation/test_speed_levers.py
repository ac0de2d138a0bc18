"""What makes generate.py fast, as behaviour: the image budget, extraction threads, one embedding, light --help.

Nothing here times anything (bench/generate_speed.py does); it checks that each lever is wired.
"""

from __future__ import annotations

import subprocess
import sys

import torch

from metad2a.features.extractor import FeatureExtractor
from metad2a.generation.app import generate
from tests.generation.conftest import REPO, gen_config, make_folder


def test_image_budget_sets_the_per_class_sample(tmp_path):
    data = make_folder(tmp_path / "ds", classes=6, per_class=5)
    r = generate(gen_config(tmp_path, f"data.path={data}", "data.max_images=12", "data.min_per_class=1",
                            "features.cache=false", "top_k=2", "num_samples=4")).result
    assert r.dataset["images_used"] == 12  # 2 per class: 12 // 6


def test_extraction_uses_its_own_threads_and_restores_the_count(tmp_path, monkeypatch):
    seen: list[int] = []
    real = FeatureExtractor.preprocess

    def spy(self, batch):  # runs inside the extraction loop, once per batch
        seen.append(torch.get_num_threads())
        return real(self, batch)

    monkeypatch.setattr(FeatureExtractor, "preprocess", spy)
    data = make_folder(tmp_path / "ds", classes=3, per_class=2)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        generate(gen_config(tmp_path, f"data.path={data}", "threads=1", "features.threads=2",
                            "features.cache=false", "top_k=2", "num_samples=4"))
        assert seen == [2]  # one batch, embedded once (the early extractor was kept), on 2 threads
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_help_imports_no_heavy_module():
    code = ("import runpy, sys\nsys.argv = ['generate.py', '--help']\n"
            "try:\n    runpy.run_path('generate.py', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print('heavy:', *(m for m in ('torch', 'torch_geometric', 'PIL', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "heavy:"  # none of them
