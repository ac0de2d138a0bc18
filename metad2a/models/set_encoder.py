"""Set Transformer blocks (Lee et al., ICML 2019) and MetaD2A's two-level dataset encoder.

Every block takes an optional boolean ``mask`` over its key set (True = a real element), so
tasks with different numbers of classes or samples can share a padded batch.

    MAB(Q, K)  = LN(H + rFF(H)),  H = LN(q + MultiHead(q, K, K)),  q = Q W_q
    SAB(X)     = MAB(X, X)                                   equivariant, O(n^2)
    ISAB(X)    = MAB(X, MAB(I, X)),  I: m learned points      equivariant, O(n m)
    PMA_k(X)   = MAB(S, rFF(X)),     S: k learned seeds       invariant,   (B, k, dim)
"""

from __future__ import annotations

import math

import torch
from torch import nn


class MAB(nn.Module):
    """Multihead attention block. q: (B, Nq, dim_q), k: (B, Nk, dim_k), mask: (B, Nk) -> (B, Nq, dim)."""

    def __init__(self, dim_q: int, dim_k: int, dim: int, heads: int = 4):
        super().__init__()
        self.proj_q = nn.Linear(dim_q, dim)
        self.attn = nn.MultiheadAttention(dim, heads, kdim=dim_k, vdim=dim_k, batch_first=True)
        self.ff = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Linear(dim, dim))
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)

    def forward(self, q: torch.Tensor, k: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        q = self.proj_q(q)
        # nn.MultiheadAttention wants True = ignore. An all-real mask is passed as None: the same
        # attention, and it skips torch's mask check, whose first call imports sympy (~0.3 s).
        pad = None if mask is None or bool(mask.all()) else ~mask
        h = self.ln1(q + self.attn(q, k, k, key_padding_mask=pad, need_weights=False)[0])
        return self.ln2(h + self.ff(h))


class SAB(nn.Module):
    """Self-attention block. x: (B, N, dim_in), mask: (B, N) -> (B, N, dim)."""

    def __init__(self, dim_in: int, dim: int, heads: int = 4):
        super().__init__()
        self.mab = MAB(dim_in, dim_in, dim, heads)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.mab(x, x, mask)


class ISAB(nn.Module):
    """Induced self-attention through m learned points. x: (B, N, dim_in), mask: (B, N) -> (B, N, dim)."""

    def __init__(self, dim_in: int, dim: int, heads: int = 4, num_inducing: int = 16):
        super().__init__()
        self.inducing = nn.Parameter(torch.randn(1, num_inducing, dim) / math.sqrt(dim))
        self.mab_in = MAB(dim, dim_in, dim, heads)  # inducing points attend to the (masked) set
        self.mab_out = MAB(dim_in, dim, dim, heads)  # the set attends to the m summaries

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        h = self.mab_in(self.inducing.expand(x.shape[0], -1, -1), x, mask)
        return self.mab_out(x, h)


class PMA(nn.Module):
    """Pooling by multihead attention onto k seeds. x: (B, N, dim), mask: (B, N) -> (B, k, dim)."""

    def __init__(self, dim: int, heads: int = 4, num_seeds: int = 1):
        super().__init__()
        self.seeds = nn.Parameter(torch.randn(1, num_seeds, dim) / math.sqrt(dim))
        self.ff = nn.Sequential(nn.Linear(dim, dim), nn.ReLU())
        self.mab = MAB(dim, dim, dim, heads)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.mab(self.seeds.expand(x.shape[0], -1, -1), self.ff(x), mask)


class DatasetEncoder(nn.Module):
    """Two-level set encoder: samples -> class prototypes -> one dataset vector.

    features: (B, C, N, D) frozen image features, C classes of N samples (padded)
    mask:     (B, C, N) bool, True for real samples; None = all real
    returns:  (B, dim)

    Level 1 runs ISAB + PMA inside each class (all B*C classes in one batch), level 2 runs
    ISAB + PMA over the class prototypes. ISAB keeps both levels linear in set size, so 1,000
    classes cost no more memory than the features themselves. Attention pooling is a weighted
    mean and cannot see how many classes there are, which matters for accuracy, so log(C) is
    appended before the output layer. The result is invariant to the order of samples within a
    class and to the order of classes.
    """

    def __init__(self, feat_dim: int, dim: int = 128, heads: int = 4, num_inducing: int = 16):
        super().__init__()
        self.proj = nn.Linear(feat_dim, dim)
        self.sample_set, self.sample_pool = ISAB(dim, dim, heads, num_inducing), PMA(dim, heads)
        self.class_set, self.class_pool = ISAB(dim, dim, heads, num_inducing), PMA(dim, heads)
        self.out = nn.Linear(dim + 1, dim)

    def forward(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        B, C, N, _ = features.shape
        if mask is None:
            mask = torch.ones(B, C, N, dtype=torch.bool, device=features.device)
        h = self.proj(features).reshape(B * C, N, -1)
        m = mask.reshape(B * C, N).clone()
        m[~m.any(1), 0] = True  # padded classes: attend to one dummy so softmax stays finite
        protos = self.sample_pool(self.sample_set(h, m), m).reshape(B, C, -1)
        cmask = mask.any(-1)  # (B, C)
        pooled = self.class_pool(self.class_set(protos, cmask), cmask).squeeze(1)
        log_c = cmask.sum(1, keepdim=True).float().log()
        return self.out(torch.cat([pooled, log_c], dim=1))


def pad_features(sets: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack per-task features (C_i, N_i, D) into a zero-padded (B, C, N, D) batch and its (B, C, N) mask."""
    C = max(s.shape[0] for s in sets)
    N = max(s.shape[1] for s in sets)
    out = sets[0].new_zeros(len(sets), C, N, sets[0].shape[2])
    mask = torch.zeros(len(sets), C, N, dtype=torch.bool, device=sets[0].device)
    for b, s in enumerate(sets):
        out[b, : s.shape[0], : s.shape[1]] = s
        mask[b, : s.shape[0], : s.shape[1]] = True
    return out, mask
