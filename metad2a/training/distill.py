"""The generator's targets: each dataset's best cells, as the trained meta-predictor ranks them.

MetaD2A trains its graph decoder on (dataset, high-performing cell) pairs. A task in our
database has 15 evaluated cells, and the best of 15 random cells is only around the 90th
percentile of the space, so those are weak targets. The selected meta-predictor, in
contrast, scores every one of the 6,466 unique cells for any dataset under proper training
(its ``answer_recipe``). The generator is therefore trained to decode, from q(z | D), the
predictor's top cells for D:

    targets(D)   = top_k unique cells by predicted accuracy (answer recipe)
    weights(D)   ∝ exp(-(best - predicted) / temperature)      (points; sum 1 per dataset)
    ranked(D)    = the targets plus ``rank_cells`` random cells, with their predicted accuracy,
                   for the likelihood-ranking term of ``GraphVAE.loss``

and datasets are varied every step (a random class subset of each training task, a fresh
sample per class), so q(z | D) sees many more datasets than there are tasks. The validation
metric is what generate.py needs: how many of the predictor's top-10 cells for a held-out
dataset appear among 100 samples (``recall_at``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from metad2a.models.graph_decoder import types_to_archs
from metad2a.models.graph_encoder import encode_archs
from metad2a.models.graph_vae import GraphVAE
from metad2a.models.predictor import MetaPredictor
from metad2a.space import canonical_form, unique_cells


@dataclass
class CellBank:
    """Every unique cell, encoded once by a frozen predictor. node_type (U, 8); emb (U, dim)."""

    archs: list[str]
    node_type: torch.Tensor
    emb: torch.Tensor

    @classmethod
    @torch.no_grad()
    def build(cls, model: MetaPredictor, archs: Sequence[str] | None = None, chunk: int = 2048) -> "CellBank":
        archs = list(archs if archs is not None else unique_cells())
        nt = encode_archs(archs)
        model.eval()
        emb = torch.cat([model.encode_cells(nt[i : i + chunk]) for i in range(0, len(nt), chunk)])
        return cls(archs, nt, emb)


@torch.no_grad()
def bank_scores(model: MetaPredictor, bank: CellBank, features: torch.Tensor, mask: torch.Tensor | None = None,
                recipe: str | None = None) -> torch.Tensor:
    """Predicted accuracy (%) of every bank cell for each dataset. features (B, C, N, D) -> (B, U).

    recipe: the recipe name to answer for (None: the model's ``answer_recipe``).
    """
    model.eval()
    d = model.embed_dataset(features, mask)
    rid = model.recipe_ids(None if recipe is None else [recipe] * len(d), len(d))
    out = []
    for b in range(len(d)):
        index = torch.zeros(len(bank.archs), dtype=torch.long)
        out.append(100.0 * model(d[b : b + 1], bank.node_type, index, rid[b : b + 1], cell_emb=bank.emb))
    return torch.stack(out)


def top_targets(scores: torch.Tensor, top_k: int, temperature: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``top_k`` best cells of one dataset and their weights. scores (U,) % -> (idx (k,), w (k,) sum 1)."""
    best, idx = torch.topk(scores, min(top_k, len(scores)))
    w = torch.exp(-(best[0] - best) / max(temperature, 1e-8))
    return idx, w / w.sum()


def class_subset_features(features: torch.Tensor, gen: torch.Generator, samples_per_class: int,
                          min_frac: float = 0.5) -> torch.Tensor:
    """A random variant of one dataset: at least ``min_frac`` of its classes (>= 2), and
    ``samples_per_class`` random samples of each. features (C, N, D) -> (C', n, D)."""
    C, N, _ = features.shape
    lo = min(C, max(2, int(np.ceil(min_frac * C))))
    k = int(torch.randint(lo, C + 1, (1,), generator=gen))
    classes = torch.randperm(C, generator=gen)[:k].sort().values
    n = min(samples_per_class, N)
    samples = torch.randperm(N, generator=gen)[:n]
    return features[classes][:, samples]


@torch.no_grad()
def recall_at(vae: GraphVAE, model: MetaPredictor, bank: CellBank, features: torch.Tensor, top: int = 10,
              samples: int = 100, seed: int = 0) -> tuple[float, list[str], list[str]]:
    """How many of the predictor's ``top`` cells for one dataset appear among ``samples`` draws
    from q(z | D), up to NB201 equivalence. features (C, N, D).

    Returns (recall in [0, 1], the predictor's top cells, the sampled cells).
    """
    scores = bank_scores(model, bank, features[None])[0]
    best = [bank.archs[i] for i in torch.topk(scores, top).indices.tolist()]
    vae.eval()
    gen = torch.Generator().manual_seed(seed)
    drawn = types_to_archs(vae.sample(features[None], samples, generator=gen))
    got = {canonical_form(a) for a in drawn}
    return sum(canonical_form(a) in got for a in best) / len(best), best, drawn
