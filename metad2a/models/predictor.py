"""Meta-performance predictor: (dataset, cell, recipe) -> predicted accuracy, as prior plus residual.

    d = DatasetEncoder(features)                (B, dim)  or a learned constant (dataset-agnostic)
    g = GraphEncoder(cell)                      (M, dim)  (+ MLP(GRAF features) with cell_features="graf")
    e = RecipeEmbedding(recipe)                 (B, dim)  which training labelled the accuracy
    p = CellPrior(cell)                         (M,)      NB201's ImageNet16-120 accuracy, standardised
    r = reference embedding                     (dim,)    ImageNet16-120's (the prior's own dataset)
    y = level([d; e]) + scale([d; e]) * p       the prior, shifted and scaled per dataset and recipe
        + MLP_data([d; g; d*g]) - MLP_data([r; g; r*g])   how this dataset moves each cell, relative
                                                          to the prior's dataset
        + MLP_recipe([e; g; e * g])             how a cheaper recipe moves each cell (0 for the
                                                answer recipe)                          (M,)  acc / 100
    loss = reg_weight MSE(y, acc) + rank_weight ranking(y, acc within each task)     (losses.py)

Why this shape:

- **Prior plus residual.** Every NB201 cell was trained properly on ImageNet16-120, and that
  ranking already agrees with CIFAR-100's at Spearman 0.94. The network learns how a dataset
  (and a cheaper recipe) moves cells away from it, not the whole ranking from a few hundred
  labels. ``prior=false`` drops ``p`` (the ablation).
- **The recipe is an input.** Records come from different trainings: NB201's 200 epochs, our
  truth recipe, the v1 mini recipe. Each is a different question ("after 8 epochs" favours
  shallow cells), so the model is told which one a label answers, and at inference it answers
  for ``answer_recipe`` (NB201's proper training).
- **Dataset and recipe act additively on a cell.** NB201's proper-training labels exist for one
  dataset only (ImageNet16-120), ours for many datasets but one cheaper recipe. Keeping the two
  residuals apart lets a new dataset's shift (learned across all our tasks) carry over to the
  proper-training answer, instead of asking one network about a (dataset, recipe) pair it has
  never seen.
- **Anchored at the prior's dataset.** The dataset term is measured from ImageNet16-120's own
  embedding (the table task's, kept in the ``reference`` buffer), and the recipe term is zero
  for the answer recipe. So for ImageNet16-120 under proper training the model *is* the table,
  a dataset like it gets a small correction, and only datasets that rank cells differently in
  our runs move the answer. The agnostic twin's dataset term is identically zero: it is the
  table plus the recipe correction, i.e. the ImageNet16-120 lookup when answering.
- **The product term** lets the dataset re-weight cell features, which a within-task ranking
  needs; without it d could only shift every cell of a task alike (task difficulty).

The dataset-agnostic twin keeps every other part (recipe, prior) and replaces d by one learned
vector, so comparing the two measures exactly what dataset conditioning adds.
"""

from __future__ import annotations

import torch
from torch import nn

from metad2a.models.cell_features import GRAF_DIM, CellFeatures
from metad2a.models.cell_prior import CellPrior
from metad2a.models.cell_table import CellTable, tabulate
from metad2a.models.config import ModelConfig
from metad2a.models.graph_encoder import GraphEncoder
from metad2a.models.losses import ranking_loss, regression_loss
from metad2a.models.set_encoder import DatasetEncoder


class MetaPredictor(nn.Module):
    """Predicts accuracy (in [0, 1] units) of cells on datasets under a named recipe."""

    # State-dict prefixes of the cell side that a cell table replaces (absent when built with one).
    CELL_ENCODER_KEYS = ("graph_encoder.", "cell_proj.", "cell_features.")

    def __init__(self, cfg: ModelConfig, agnostic: bool = False, cell_table: torch.Tensor | None = None):
        """cell_table: (15625, hidden_dim) precomputed ``encode_cells`` (``models/cell_table.py``) for
        inference; the GNN (and GRAF projection) is then not built and its weights are not expected."""
        super().__init__()
        self.cfg, self.agnostic = cfg, agnostic
        d = cfg.hidden_dim
        if cfg.answer_recipe not in cfg.recipes:
            raise ValueError(f"model.answer_recipe={cfg.answer_recipe!r} is not in model.recipes={cfg.recipes}")
        if agnostic:
            self.dataset_const = nn.Parameter(torch.zeros(d))
        else:
            self.dataset_encoder = DatasetEncoder(cfg.feat_dim, d, cfg.heads, cfg.num_inducing)
        if cfg.cell_features not in ("none", "graf"):
            raise ValueError(f"model.cell_features={cfg.cell_features!r}: use none or graf")
        if cell_table is not None:
            self.cell_table = CellTable(cell_table)
            if self.cell_table.table.shape[1] != d:
                raise ValueError(f"cell table rows have {self.cell_table.table.shape[1]} values, model.hidden_dim={d}")
        else:
            self.graph_encoder = GraphEncoder(d, cfg.gnn_layers)
        self.recipe_emb = nn.Embedding(len(cfg.recipes), d)
        if cfg.cell_features == "graf" and cell_table is None:
            self.cell_features = CellFeatures()
            self.cell_proj = nn.Sequential(nn.Linear(GRAF_DIM, d), nn.ReLU(), nn.Linear(d, d))
        if cfg.prior:
            self.prior = CellPrior()
        self.base = nn.Sequential(nn.Linear(2 * d, d), nn.ReLU(), nn.Linear(d, 2))  # level, scale of the prior
        self.head = nn.Sequential(nn.Linear(3 * d, d), nn.ReLU(), nn.Linear(d, d), nn.ReLU(), nn.Linear(d, 1))
        self.recipe_head = nn.Sequential(nn.Linear(3 * d, d), nn.ReLU(), nn.Linear(d, 1))
        self.register_buffer("reference", torch.zeros(d))  # the prior's dataset embedding (set_reference)

    def recipe_ids(self, names: list[str] | None, batch: int) -> torch.Tensor:
        """Recipe names (one per task; None = ``answer_recipe`` for all) -> (B,) ids."""
        vocab = self.cfg.recipes
        names = names if names is not None else [self.cfg.answer_recipe] * batch
        unknown = sorted(set(names) - set(vocab))
        if unknown:
            raise ValueError(f"recipes {unknown} are not in model.recipes={vocab}: add them to the model config")
        return torch.tensor([vocab.index(n) for n in names], dtype=torch.long, device=self.recipe_emb.weight.device)

    def embed_dataset(self, features: torch.Tensor | None, mask: torch.Tensor | None = None,
                      batch: int = 1) -> torch.Tensor:
        """features (B, C, N, D), mask (B, C, N) -> (B, dim); agnostic: the constant, features ignored."""
        if self.agnostic:
            return self.dataset_const.expand(features.shape[0] if features is not None else batch, -1)
        return self.dataset_encoder(features, mask)

    @torch.no_grad()
    def set_reference(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> None:
        """Store the embedding of the prior's dataset (features (1, C, N, D)) for inference."""
        self.reference.copy_(self.embed_dataset(features, mask)[0])

    def encode_cells(self, node_type: torch.Tensor) -> torch.Tensor:
        """(M, 8) node types -> (M, dim) cell encodings (GNN, plus GRAF features if configured;
        looked up when the model was built with a cell table)."""
        if hasattr(self, "cell_table"):
            return self.cell_table(node_type)
        g = self.graph_encoder(node_type)
        if self.cfg.cell_features == "graf":
            g = g + self.cell_proj(self.cell_features(node_type))
        return g

    def tabulate_cells(self) -> torch.Tensor:
        """(15625, dim) ``encode_cells`` of every cell in ``cell_code`` order, the inference table."""
        was = self.training
        table = tabulate(self.eval().encode_cells)
        self.train(was)
        return table

    def forward(self, dataset_emb: torch.Tensor, node_type: torch.Tensor, task_index: torch.Tensor,
                recipe: torch.Tensor | None = None, cell_emb: torch.Tensor | None = None,
                reference: torch.Tensor | None = None) -> torch.Tensor:
        """dataset_emb (B, dim), node_type (M, 8), task_index (M,) in 0..B-1, recipe (B,) ids
        (None: ``answer_recipe``), cell_emb (M, dim) from ``encode_cells`` when already computed,
        reference (dim,) the prior's dataset embedding (None: the stored one) -> (M,) acc / 100."""
        if recipe is None:
            recipe = self.recipe_ids(None, dataset_emb.shape[0])
        d, e = dataset_emb[task_index], self.recipe_emb(recipe)[task_index]
        r = (self.reference if reference is None else reference).expand_as(d)
        g = self.encode_cells(node_type) if cell_emb is None else cell_emb
        level, scale = self.base(torch.cat([d, e], dim=1)).unbind(1)
        moved = self.head(torch.cat([d, g, d * g], dim=1)) - self.head(torch.cat([r, g, r * g], dim=1))
        cheap = (recipe[task_index] != self.cfg.recipes.index(self.cfg.answer_recipe)).float()
        y = level + moved.squeeze(1) + cheap * self.recipe_head(torch.cat([e, g, e * g], dim=1)).squeeze(1)
        if self.cfg.prior:
            y = y + scale * self.prior(node_type)
        return y

    def loss(self, features: torch.Tensor | None, mask: torch.Tensor | None, node_type: torch.Tensor,
             acc: torch.Tensor, task_index: torch.Tensor, recipe: torch.Tensor | None = None,
             reference_index: int | None = None) -> dict[str, torch.Tensor]:
        """Regression plus within-task ranking for B tasks and their M evaluated cells.

        features (B, C, N, D), mask (B, C, N); node_type (M, 8); acc (M,) in [0, 1]; task_index (M,)
        in 0..B-1; recipe (B,) ids of the recipes that labelled each task; reference_index: the
        batch position of the prior's own task (its embedding is the reference), None: the stored one.
        Returns {"loss": reg_weight * mse + rank_weight * rank, "mse": ..., "rank": ...}.
        """
        emb = self.embed_dataset(features, mask)
        ref = None if reference_index is None else emb[reference_index]
        pred = self(emb, node_type, task_index, recipe, reference=ref)
        reg, rank = regression_loss(pred, acc), ranking_loss(self.cfg.rank_loss, pred, acc, task_index)
        return {"loss": self.cfg.reg_weight * reg + self.cfg.rank_weight * rank, "mse": reg, "rank": rank}
