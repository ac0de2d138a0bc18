"""MetaD2A's models: the set encoder, the cross-modal graph VAE and the meta-performance predictor.

All are plain ``nn.Module``s configured by one ``ModelConfig``; cells enter as (B, 8) node-type
ids from ``encode_archs`` and leave as NB201 strings from ``types_to_archs``.
"""

from metad2a.models.config import ModelConfig
from metad2a.models.graph_decoder import GraphDecoder, types_to_archs
from metad2a.models.graph_encoder import GraphEncoder, encode_archs
from metad2a.models.graph_vae import GraphVAE
from metad2a.models.predictor import MetaPredictor
from metad2a.models.set_encoder import ISAB, MAB, PMA, SAB, DatasetEncoder, pad_features

__all__ = [
    "ModelConfig", "GraphDecoder", "types_to_archs", "GraphEncoder", "encode_archs", "GraphVAE",
    "MetaPredictor", "ISAB", "MAB", "PMA", "SAB", "DatasetEncoder", "pad_features",
]
