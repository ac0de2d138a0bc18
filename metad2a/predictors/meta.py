"""MetaD2A at inference: score cells with the meta-predictor, sample cells from the graph VAE.

    scorer = MetaPredictorScorer()                       # meta_data/checkpoints/predictor.pt
    scores = scorer.score(archs, DatasetSample(features=feats))   # feats: (C, N, D)

    gen = MetaGenerator()                                # meta_data/checkpoints/generator.pt
    cells = gen.sample_cells(feats, 100, seed=0)         # NB201 strings, all valid

``checkpoint=None`` means ``$METAD2A_META_DATA/checkpoints/<file>`` (default ``meta_data/``).
A missing or incompatible checkpoint raises ``CheckpointError`` saying how to rebuild it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from metad2a.errors import DataError
from metad2a.models.checkpoint import (AGNOSTIC_FILE, GENERATOR_FILE, PREDICTOR_FILE, default_checkpoint_dir,
                                       load_generator, load_predictor)
from metad2a.models.graph_decoder import types_to_archs
from metad2a.models.graph_encoder import encode_archs
from metad2a.predictors.base import DatasetSample


def _features(features: np.ndarray | torch.Tensor, feat_dim: int, extractor: str) -> torch.Tensor:
    """Check and convert (C, N, D) features to a (1, C, N, D) float tensor."""
    f = torch.as_tensor(np.asarray(features) if not isinstance(features, torch.Tensor) else features).float()
    if f.ndim != 3 or f.shape[0] < 1 or f.shape[1] < 1:
        raise DataError(f"features must be (num_classes, n_per_class, D), got shape {tuple(f.shape)}: "
                        "group the frozen features by class")
    if f.shape[2] != feat_dim:
        raise DataError(f"features have dim {f.shape[2]} but the checkpoint expects {feat_dim} ({extractor}): "
                        f"extract them with {extractor}")
    return f[None]


class MetaPredictorScorer:
    """The meta-performance predictor behind the ``Scorer`` protocol; scores are predicted accuracy (%).

    The dataset-agnostic checkpoint (``predictor_agnostic.pt``) ignores ``dataset``.
    """

    def __init__(self, checkpoint: str | os.PathLike | None = None, name: str | None = None,
                 batch_size: int = 4096, agnostic: bool = False):
        default = default_checkpoint_dir() / (AGNOSTIC_FILE if agnostic else PREDICTOR_FILE)
        path = Path(checkpoint) if checkpoint else default
        self.model, self.checkpoint = load_predictor(path, inference=True)
        self.path, self.agnostic, self.batch_size = path, self.model.agnostic, batch_size
        self.name = name or ("meta_agnostic" if self.agnostic else "meta")
        # Which training the predictions answer for: the model's answer recipe (NB201's 200 epochs).
        self.scale = self.model.cfg.answer_recipe
        self.feat_dim = self.model.cfg.feat_dim
        self.feature_extractor = self.model.cfg.feature_extractor

    @torch.no_grad()
    def embed(self, features: np.ndarray | torch.Tensor | None) -> torch.Tensor:
        """(C, N, D) features -> (hidden_dim,) dataset embedding (the learned constant if agnostic)."""
        if self.agnostic:
            return self.model.embed_dataset(None)[0]
        if features is None:
            raise DataError("the meta predictor needs dataset features (num_classes, n_per_class, D): "
                            "pass DatasetSample(features=...) or use predictor=agnostic")
        return self.model.embed_dataset(_features(features, self.feat_dim, self.feature_extractor))[0]

    @torch.no_grad()
    def predict(self, archs: Sequence[str], embedding: torch.Tensor, recipe: str | None = None) -> np.ndarray:
        """Predicted accuracy (%) of each arch given a dataset embedding from ``embed``: (len(archs),).

        recipe: the training to answer for (a name in the model's ``recipes``); None: its answer
        recipe, proper training.
        """
        rid = self.model.recipe_ids(None if recipe is None else [recipe], 1)
        out = []
        for s in range(0, len(archs), self.batch_size):
            nt = encode_archs(archs[s : s + self.batch_size])
            out.append(100.0 * self.model(embedding[None], nt, torch.zeros(len(nt), dtype=torch.long), rid))
        return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)

    def score(self, archs: Sequence[str], dataset: DatasetSample | None = None) -> np.ndarray:
        """Predicted accuracy (%) of each cell on ``dataset`` (its ``features`` are required unless agnostic),
        under ``dataset.recipe`` when it names one the model knows, else under proper training."""
        recipe = None if dataset is None or dataset.recipe not in self.model.cfg.recipes else dataset.recipe
        return self.predict(list(archs), self.embed(None if dataset is None else dataset.features), recipe)


class MetaGenerator:
    """The cross-modal graph VAE: embed a dataset into the latent space and decode cells from it."""

    def __init__(self, checkpoint: str | os.PathLike | None = None):
        path = Path(checkpoint) if checkpoint else default_checkpoint_dir() / GENERATOR_FILE
        self.model, self.checkpoint = load_generator(path, inference=True)
        self.path = path
        self.feat_dim = self.model.cfg.feat_dim
        self.feature_extractor = self.model.cfg.feature_extractor

    @torch.no_grad()
    def embed(self, features: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(C, N, D) features -> posterior (mu, logvar) of q(z | D), each (latent_dim,)."""
        mu, logvar = self.model.encode_dataset(_features(features, self.feat_dim, self.feature_extractor))
        return mu[0], logvar[0]

    @torch.no_grad()
    def sample_cells(self, features: np.ndarray | torch.Tensor, n: int, temperature: float = 1.0,
                     seed: int | None = 0, unique: bool = False, max_draws: int = 20) -> list[str]:
        """Decode n cells with z ~ q(z | D) (always valid NB201 strings).

        ``unique=True`` keeps drawing (up to ``max_draws * n`` samples) until n distinct strings
        are found and may return fewer; isomorphic duplicates are left for the caller to merge.
        """
        f = _features(features, self.feat_dim, self.feature_extractor)
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        if not unique:
            return types_to_archs(self.model.sample(f, n, temperature=temperature, generator=gen))
        seen: dict[str, None] = {}
        for _ in range(max_draws):
            for a in types_to_archs(self.model.sample(f, n, temperature=temperature, generator=gen)):
                seen.setdefault(a, None)
            if len(seen) >= n:
                break
        return list(seen)[:n]


def sample_cells(features: np.ndarray | torch.Tensor, n: int, checkpoint: str | os.PathLike | None = None,
                 **kwargs) -> list[str]:
    """Shortcut: ``MetaGenerator(checkpoint).sample_cells(features, n, **kwargs)``."""
    return MetaGenerator(checkpoint).sample_cells(features, n, **kwargs)
