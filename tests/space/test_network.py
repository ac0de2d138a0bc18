import csv
import random

import pytest
import torch

from metad2a.errors import InvalidArchError
from metad2a.space.network import build_model, count_flops, count_params

ARCH = "|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"


@pytest.mark.parametrize("in_ch, size", [(1, 28), (3, 32), (3, 16)])
def test_forward_shapes(in_ch, size):
    m = build_model(ARCH, num_classes=7, C=8, N=1, in_channels=in_ch)
    assert m(torch.randn(2, in_ch, size, size)).shape == (2, 7)


def test_bad_arch_and_channels():
    with pytest.raises(InvalidArchError):
        build_model("|conv~0|", 10)
    with pytest.raises(ValueError, match="in_channels"):
        build_model(ARCH, 10, in_channels=4)


def test_params_and_flops_match_nb201(shared_data):
    with open(shared_data / "nb201" / "nb201_zero_cost_proxies_imagenet16_120.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 9445
    # Params: exact, for a large fixed sample (the full 9,445 take ~6 min; see bench/check_network_costs.py).
    for r in random.Random(0).sample(rows, 400):
        m = build_model(r["arch"], 120)
        assert count_params(m) == round(float(r["params"]) * 1e6), r["arch"]
    for r in random.Random(1).sample(rows, 60):
        m = build_model(r["arch"], 120)
        flops = count_flops(m, (3, 16, 16)) / 1e6
        assert abs(flops - float(r["flops"])) / float(r["flops"]) < 0.01, r["arch"]
