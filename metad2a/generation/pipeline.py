"""generate.py's pipeline: images -> features -> candidate cells -> scores -> ranked result.

Every stage is timed; ``run_generation`` returns a ``GenerationResult`` and never prints
except through the progress bars of the long stages.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import torch

from metad2a.data.imageset import ImageSet
from metad2a.data.load import load_images
from metad2a.errors import DataError, MetaD2AError
from metad2a.features.cache import FeatureCache
from metad2a.features.extractor import build_extractor
from metad2a.generation.report import GenerationResult, RankedCell
from metad2a.predictors.base import DatasetSample, Scorer
from metad2a.space import canonical_form, parse, unique_cells
from metad2a.space.network import build_model, count_flops, count_params

SEARCHES = ("generator", "exhaustive")


@dataclass
class GenerationSettings:
    """What generate.py's config holds (see ``conf/generate.yaml``)."""

    data: str
    data_format: str = "auto"
    images_per_class: int = 20
    image_size: int = 64
    search: str = "generator"
    num_samples: int = 100
    temperature: float = 1.0
    top_k: int = 10
    C: int = 16
    N: int = 5
    cost_input_size: int = 32
    seed: int = 0
    feature_cache: bool = True
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


@contextmanager
def _timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    t0 = time.perf_counter()
    yield
    timings[stage] = round(time.perf_counter() - t0, 4)


def group_by_class(features: np.ndarray, labels: np.ndarray, num_classes: int, k: int, seed: int) -> np.ndarray:
    """(N, D) features -> (num_classes, k, D); short classes are filled by resampling their images."""
    rng = np.random.default_rng(seed)
    out = np.empty((num_classes, k, features.shape[1]), dtype=np.float32)
    for c in range(num_classes):
        idx = np.flatnonzero(labels == c)
        if len(idx) == 0:
            raise DataError(f"class {c} has no usable images: remove its folder or add images")
        pick = idx[:k] if len(idx) >= k else np.concatenate([idx, rng.choice(idx, k - len(idx))])
        out[c] = features[pick]
    return out


def _candidates(settings: GenerationSettings, generator, class_features: np.ndarray) -> tuple[list[str], dict[str, int]]:
    """Candidate cells, deduplicated by canonical form, and the generator counts."""
    if settings.search == "exhaustive":
        cells = unique_cells()
        return cells, {"sampled": 0, "valid": len(cells), "unique": len(cells)}
    sampled = generator.sample_cells(class_features, settings.num_samples, temperature=settings.temperature,
                                     seed=settings.seed)
    valid = []
    for a in sampled:
        try:
            parse(a)
            valid.append(a)
        except MetaD2AError:
            pass
    unique: dict[str, str] = {}
    for a in valid:
        unique.setdefault(canonical_form(a), a)
    return list(unique.values()), {"sampled": len(sampled), "valid": len(valid), "unique": len(unique)}


def _dataset_sample(images: ImageSet, class_features: np.ndarray, name: str) -> DatasetSample:
    x = torch.from_numpy(images.images).permute(0, 3, 1, 2).float().div(255.0)
    x = (x - 0.5) / 0.25  # rough per-channel standardisation for training-free scores
    return DatasetSample(name=name, num_classes=images.num_classes, images=x,
                         labels=torch.from_numpy(images.labels), features=torch.from_numpy(class_features))


def run_generation(settings: GenerationSettings, scorer: Scorer, generator=None,
                   extractor_name: str = "efficientnet_lite0", feature_resolution: int = 128,
                   name: str | None = None) -> tuple[GenerationResult, Any]:
    """Run the whole pipeline; returns the result and the best cell's (untrained) network."""
    if settings.search not in SEARCHES:
        raise MetaD2AError(f"unknown search {settings.search!r}: use search=generator or search=exhaustive")
    if settings.search == "generator" and generator is None:
        raise MetaD2AError("search=generator needs the graph VAE checkpoint: run train.py or use search=exhaustive")
    timings: dict[str, float] = {}
    t_start = time.perf_counter()
    with _timed(timings, "load_images"):
        images = load_images(settings.data, format=settings.data_format, size=settings.image_size,
                             max_per_class=settings.images_per_class, seed=settings.seed, progress=settings.progress)
    with _timed(timings, "features"):
        extractor = build_extractor(extractor_name, feature_resolution)
        cache = FeatureCache() if settings.feature_cache else None
        feats = extractor.extract(images.images, cache=cache, progress=settings.progress)
        class_features = group_by_class(feats, images.labels, images.num_classes, settings.images_per_class,
                                        settings.seed)
    with _timed(timings, "generate"):
        candidates, gen_counts = _candidates(settings, generator, class_features)
    with _timed(timings, "score"):
        sample = _dataset_sample(images, class_features, name or Path(settings.data).name)
        scores = np.asarray(scorer.score(candidates, sample), dtype=float)
        order = np.argsort(-scores, kind="stable")[: settings.top_k]
    with _timed(timings, "rank"):
        ranked, best_model = [], None
        for i in order:
            model = build_model(candidates[i], images.num_classes, C=settings.C, N=settings.N)
            ranked.append(RankedCell(candidates[i], float(scores[i]), count_params(model),
                                     count_flops(model, (3, settings.cost_input_size, settings.cost_input_size))))
            best_model = best_model or model
    timings["total"] = round(time.perf_counter() - t_start, 4)
    dataset = {"name": name or Path(settings.data).name, "num_classes": images.num_classes,
               "images_used": len(images), "path": str(settings.data)}
    result = GenerationResult(ranked=ranked, dataset=dataset, timings_s=timings, generator=gen_counts, config={},
                              skipped_files=images.n_corrupt + images.n_non_image + images.n_too_large,
                              warnings=list(images.warnings))
    return result, best_model
