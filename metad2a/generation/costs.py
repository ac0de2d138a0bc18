"""Params and FLOPs of many NB201 networks from five reference builds, instead of one build per cell.

Every cell of an NB201 network computes all 6 edges at its stage's width and resolution, so
each op adds the same cost wherever it sits, and for a fixed skeleton (num_classes, C, N,
input size)

    cost(arch) = cost(all-none) + sum over edges e of  (cost(all-op_e) - cost(all-none)) / 6

exactly, for both ``count_params`` and ``count_flops`` (tests check it against a build).
"""

from __future__ import annotations

from functools import lru_cache

from metad2a.space import OPS, format_cell, op_counts


@lru_cache(maxsize=32)
def reference_costs(num_classes: int, C: int, N: int, input_size: tuple[int, int, int]) -> dict[str, tuple[int, int]]:
    """{op: (params, flops) of the all-``op`` network}, built once per skeleton (~0.3 s: five builds
    and forward passes, which generate.py runs while the images are embedded)."""
    from metad2a.space.network import build_model, count_flops, count_params  # torch only when asked

    out = {}
    for op in OPS:
        model = build_model(format_cell((op,) * 6), num_classes, C=C, N=N, in_channels=input_size[0])
        out[op] = (count_params(model), count_flops(model, input_size))
    return out


def network_costs(arch: str, num_classes: int, C: int = 16, N: int = 5,
                  input_size: tuple[int, int, int] = (3, 32, 32)) -> tuple[int, int]:
    """(params, FLOPs) of ``build_model(arch, num_classes, C, N, in_channels=input_size[0])`` on one image."""
    ref = reference_costs(int(num_classes), int(C), int(N), tuple(int(s) for s in input_size))
    base_p, base_f = ref["none"]
    params, flops = base_p, base_f
    for op, n in op_counts(arch).items():
        # (all-op - all-none) is 6 edges' worth of op; integer division is exact by linearity.
        params += n * (ref[op][0] - base_p) // 6
        flops += n * (ref[op][1] - base_f) // 6
    return params, flops
