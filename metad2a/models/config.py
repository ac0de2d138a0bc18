"""One config dataclass for the three MetaD2A models (mirrors ``conf/model/metad2a.yaml``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Mapping, Sequence


@dataclass
class ModelConfig:
    """Sizes and loss weights of the set encoder, graph VAE and meta-predictor."""

    feat_dim: int = 1280  # 1280 for EfficientNet-Lite0 features, 512 for ResNet18
    feature_extractor: str = "efficientnet_lite0"  # recorded so a scorer can refuse foreign features
    hidden_dim: int = 128
    latent_dim: int = 56
    heads: int = 4
    num_inducing: int = 16
    gnn_layers: int = 3
    cell_features: str = "none"  # predictor cell encoding: GNN only ("none") or GNN + GRAF features ("graf")
    # graph VAE objective (see graph_vae.GraphVAE)
    kl_weight: float = 5e-3
    gen_rank_weight: float = 1.0  # log p(cell | dataset) ordered like accuracy, over all evaluated cells
    # Cross-modal terms; off by default because they hurt sample quality in the synthetic ablation
    # (graph_vae.py). conf/model/metad2a_crossmodal.yaml turns them on.
    g2g_weight: float = 0.0  # graph->graph reconstruction
    align_weight: float = 0.0  # MSE from the dataset posterior mean to its targets' graph means
    contrastive_weight: float = 0.0  # InfoNCE between tasks in a batch
    contrastive_temperature: float = 0.1
    # meta-predictor: prior plus residual, conditioned on the labelling recipe (models/predictor.py)
    prior: bool = True  # start from NB201's ImageNet16-120 table (models/cell_prior.py)
    recipes: list[str] = field(default_factory=lambda: ["nb201-200ep", "truth", "mini"])  # recipe vocabulary
    answer_recipe: str = "nb201-200ep"  # what predictions answer for at inference: proper training
    # meta-predictor objective (see predictor.MetaPredictor.loss and losses.py)
    reg_weight: float = 1.0
    rank_weight: float = 1.0
    rank_loss: str = "pairwise"  # pairwise | listnet

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ModelConfig":
        """Build from a (Hydra) mapping, ignoring keys this dataclass does not have (e.g. ``_target_``)."""
        names = {f.name for f in fields(cls)}
        # Plain lists, not OmegaConf ListConfigs: the config goes into checkpoints loaded with weights_only.
        return cls(**{k: (list(v) if isinstance(v, Sequence) and not isinstance(v, str) or
                          type(v).__name__ == "ListConfig" else v) for k, v in dict(d).items() if k in names})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
