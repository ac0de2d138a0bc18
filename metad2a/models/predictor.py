"""Meta-performance predictor: (dataset embedding, cell encoding) -> predicted accuracy.

    d = DatasetEncoder(features)          (B, dim)   or a learned constant (dataset-agnostic)
    g = GraphEncoder(cell)                (M, dim)   (+ MLP(GRAF features) with cell_features="graf")
    y = MLP([d ; g ; d * g])              (M,)       accuracy / 100
    loss = reg_weight MSE(y, acc) + rank_weight ranking(y, acc within each task)     (losses.py)

The product term lets the dataset re-weight cell features, which is what a *within-task*
ranking needs: without it, d could only shift every cell of a task by the same amount (task
difficulty). The dataset-agnostic variant keeps every other part and replaces d by one learned
vector, so comparing the two measures exactly what dataset conditioning adds.
"""

from __future__ import annotations

import torch
from torch import nn

from metad2a.models.cell_features import GRAF_DIM, CellFeatures
from metad2a.models.config import ModelConfig
from metad2a.models.graph_encoder import GraphEncoder
from metad2a.models.losses import ranking_loss, regression_loss
from metad2a.models.set_encoder import DatasetEncoder


class MetaPredictor(nn.Module):
    """Predicts accuracy (in [0, 1] units) of cells on datasets."""

    def __init__(self, cfg: ModelConfig, agnostic: bool = False):
        super().__init__()
        self.cfg, self.agnostic = cfg, agnostic
        d = cfg.hidden_dim
        if agnostic:
            self.dataset_const = nn.Parameter(torch.zeros(d))
        else:
            self.dataset_encoder = DatasetEncoder(cfg.feat_dim, d, cfg.heads, cfg.num_inducing)
        self.graph_encoder = GraphEncoder(d, cfg.gnn_layers)
        if cfg.cell_features == "graf":
            self.cell_features = CellFeatures()
            self.cell_proj = nn.Sequential(nn.Linear(GRAF_DIM, d), nn.ReLU(), nn.Linear(d, d))
        elif cfg.cell_features != "none":
            raise ValueError(f"model.cell_features={cfg.cell_features!r}: use none or graf")
        self.head = nn.Sequential(nn.Linear(3 * d, d), nn.ReLU(), nn.Linear(d, d), nn.ReLU(), nn.Linear(d, 1))

    def embed_dataset(self, features: torch.Tensor | None, mask: torch.Tensor | None = None,
                      batch: int = 1) -> torch.Tensor:
        """features (B, C, N, D), mask (B, C, N) -> (B, dim); agnostic: the constant, features ignored."""
        if self.agnostic:
            return self.dataset_const.expand(features.shape[0] if features is not None else batch, -1)
        return self.dataset_encoder(features, mask)

    def forward(self, dataset_emb: torch.Tensor, node_type: torch.Tensor, task_index: torch.Tensor) -> torch.Tensor:
        """dataset_emb (B, dim), node_type (M, 8), task_index (M,) in 0..B-1 -> (M,) predicted acc / 100."""
        d = dataset_emb[task_index]
        g = self.graph_encoder(node_type)
        if self.cfg.cell_features == "graf":
            g = g + self.cell_proj(self.cell_features(node_type))
        return self.head(torch.cat([d, g, d * g], dim=1)).squeeze(1)

    def loss(self, features: torch.Tensor | None, mask: torch.Tensor | None, node_type: torch.Tensor,
             acc: torch.Tensor, task_index: torch.Tensor) -> dict[str, torch.Tensor]:
        """Regression plus within-task ranking for B tasks and their M evaluated cells.

        features (B, C, N, D), mask (B, C, N); node_type (M, 8); acc (M,) in [0, 1]; task_index (M,)
        in 0..B-1. Returns {"loss": reg_weight * mse + rank_weight * rank, "mse": ..., "rank": ...}.
        """
        pred = self(self.embed_dataset(features, mask), node_type, task_index)
        reg, rank = regression_loss(pred, acc), ranking_loss(self.cfg.rank_loss, pred, acc, task_index)
        return {"loss": self.cfg.reg_weight * reg + self.cfg.rank_weight * rank, "mse": reg, "rank": rank}
