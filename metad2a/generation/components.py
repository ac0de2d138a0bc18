"""The pieces generate.py runs with, built from its config and checked to fit together.

    parts = build_components(cfg)    # parts.scorer, parts.generator (None for search=exhaustive),
                                     # parts.extractor (None when nothing reads dataset features)

Every failure is a ``MetaD2AError`` with one line: Hydra's wrapping of our errors is removed,
and checkpoints made for other features are refused before any image is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig

from metad2a.errors import CheckpointError, MetaD2AError
from metad2a.features.extractor import DEFAULT_EXTRACTOR, FeatureExtractor, build_extractor
from metad2a.predictors.base import Scorer


@dataclass
class Components:
    scorer: Scorer
    generator: Any | None  # a metad2a.predictors.meta.MetaGenerator
    extractor: FeatureExtractor | None


def _members(obj) -> list:
    return list(getattr(obj, "members", None) or [])


def instantiate_scorer(node: DictConfig):
    """``hydra.utils.instantiate(node)``, re-raising our own errors as themselves (Hydra wraps them)."""
    try:
        return instantiate(node)
    except InstantiationException as e:
        cause = e.__cause__
        while cause is not None and not isinstance(cause, MetaD2AError):
            cause = cause.__cause__
        if cause is not None:
            raise cause from None
        last = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise MetaD2AError(f"cannot build predictor {node.get('_target_', '?')} ({last}): "
                           "check the predictor.* options") from None


def reads_features(obj) -> bool:
    """Whether a scorer (or any ensemble member) or generator consumes dataset features."""
    return obj is not None and (getattr(obj, "feat_dim", None) is not None or any(map(reads_features, _members(obj))))


def extractor_name(*parts) -> str:
    """The feature extractor the checkpoints were trained with; they must agree."""
    names = {n for p in parts for n in [getattr(p, "feature_extractor", None)] if n}
    if len(names) > 1:
        raise CheckpointError(f"the checkpoints expect different features ({', '.join(sorted(names))}): "
                              "use checkpoints from one `python train.py` run")
    return names.pop() if names else DEFAULT_EXTRACTOR


def check_feature_dims(extractor: FeatureExtractor, **parts) -> None:
    """Refuse checkpoints trained on features of another size than ``extractor`` makes."""
    for role, obj in parts.items():
        for m in _members(obj):
            check_feature_dims(extractor, **{f"{role} member {getattr(m, 'name', '?')}": m})
        dim = getattr(obj, "feat_dim", None)
        if dim is not None and dim != extractor.dim:
            from metad2a.models.checkpoint import REBUILD

            raise CheckpointError(f"the {role} checkpoint {getattr(obj, 'path', '')} expects {dim}-d features but "
                                  f"{extractor.name} makes {extractor.dim}-d ones: {REBUILD}")


def checkpoint_provenance(**parts) -> dict[str, dict]:
    """{role: {path, data_fingerprint, code_version, epoch}} of every loaded checkpoint, ensemble members included."""
    out: dict[str, dict] = {}
    for role, obj in parts.items():
        for i, m in enumerate(_members(obj)):
            out |= checkpoint_provenance(**{f"{role}.{getattr(m, 'name', i)}": m})
        ckpt = getattr(obj, "checkpoint", None)
        if isinstance(ckpt, dict):
            out[role] = {"path": str(getattr(obj, "path", "")), "data_fingerprint": ckpt.get("data_fingerprint"),
                         "code_version": ckpt.get("code_version"), "epoch": ckpt.get("epoch")}
    return out


def build_components(cfg: DictConfig, extractor: FeatureExtractor | None = None) -> Components:
    """Scorer from ``cfg.predictor``; graph VAE from ``cfg.generator_checkpoint`` (search=generator);
    the extractor at ``cfg.features.resolution`` when the scorer or generator reads features.

    ``extractor``: one already built (generate.py builds the default one early, to embed while the
    checkpoints load); it is kept when it is the one the checkpoints name, else a new one is built.
    """
    scorer = instantiate_scorer(cfg.predictor)
    generator = None
    if cfg.search == "generator":
        from metad2a.predictors.meta import MetaGenerator  # imports PyG: only when needed

        generator = MetaGenerator(cfg.generator_checkpoint)
    if not (reads_features(scorer) or generator is not None):
        return Components(scorer, generator, None)
    name, resolution = extractor_name(scorer, generator, *_members(scorer)), int(cfg.features.resolution)
    if extractor is None or (extractor.name, extractor.resolution) != (name, resolution):
        extractor = build_extractor(name, resolution, batch_size=int(cfg.features.batch_size),
                                    num_threads=cfg.features.threads)
    check_feature_dims(extractor, predictor=scorer, generator=generator)
    return Components(scorer, generator, extractor)
