"""generate.py's pipeline: images -> features -> candidate cells -> scores -> ranked result.

Every stage is timed; ``run_generation`` returns a ``GenerationResult`` and never prints
except through the progress bars of the long stages (feature extraction, sampling, scoring).
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

from metad2a.data.decode import DEFAULT_MAX_PIXELS, resize_batch
from metad2a.data.imageset import ImageSet
from metad2a.data.load import load_images
from metad2a.data.sampling import per_class_budget
from metad2a.errors import DataError, MetaD2AError
from metad2a.features.cache import FeatureCache
from metad2a.features.extractor import DEFAULT_EXTRACTOR, FeatureExtractor, build_extractor
from metad2a.generation.costs import network_costs
from metad2a.generation.report import GenerationResult, RankedCell
from metad2a.predictors.base import DatasetSample, Scorer
from metad2a.space import canonical_form, unique_cells, valid_archs
from metad2a.space.network import NB201Network, build_model

log = logging.getLogger(__name__)

SEARCHES = ("generator", "exhaustive")
# Cells sampled from the graph VAE when num_samples is not given. 100 draws give ~85 unique cells
# and cost ~0.1 s to sample and score (bench/generate_speed.py), a small part of the 10 s budget.
DEFAULT_NUM_SAMPLES = 100
# The meta-training database embeds images with EfficientNet-Lite0 at 128 px after decoding them
# at 64 px (conf/collect.yaml, features:); inference must see features made the same way.
FEATURE_RESOLUTION = 128
_SAMPLE_CHUNK = 25  # cells per graph-VAE call, so the sampling bar moves


@dataclass
class GenerationSettings:
    """What generate.py's config holds (see ``conf/generate.yaml``)."""

    data: str
    data_format: str = "auto"
    images_per_class: int = 20
    max_images: int | None = None  # total budget: many-class datasets get fewer per class (None: no cap)
    min_per_class: int = 1  # ... but never fewer than this per class
    image_size: int = 64
    max_pixels: int = DEFAULT_MAX_PIXELS
    feature_resolution: int = FEATURE_RESOLUTION
    search: str = "generator"
    num_samples: int | None = None  # None: DEFAULT_NUM_SAMPLES (search=generator only)
    temperature: float = 1.0
    top_k: int = 10
    C: int = 16
    N: int = 5
    cost_input_size: int = 32
    seed: int = 0
    feature_cache: bool = True
    feature_threads: int | None = None  # torch threads while an extractor built here runs (None: as is)
    progress: bool = True

    def per_class(self, num_classes: int) -> int:
        """Images sampled per class for a dataset of ``num_classes`` classes (the total budget applied)."""
        return per_class_budget(num_classes, self.images_per_class, self.max_images, self.min_per_class)


@contextmanager
def timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    """Add the wall time of the block to ``timings[stage]`` (seconds; a stage may be timed in parts)."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = round(timings.get(stage, 0.0) + time.perf_counter() - t0, 4)


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


def sample_candidates(generator, class_features: np.ndarray, n: int, temperature: float, seed: int,
                      progress: bool = True) -> list[str]:
    """n cells from the graph VAE for (C, k, D) ``class_features``, in chunks (one bar step each)."""
    cells: list[str] = []
    with tqdm(total=n, desc="sampling cells", unit="cell", leave=False, disable=True if not progress else None) as bar:
        for i, start in enumerate(range(0, n, _SAMPLE_CHUNK)):
            m = min(_SAMPLE_CHUNK, n - start)
            # A distinct, seed-determined stream per chunk: the whole sample is reproducible.
            cells += generator.sample_cells(class_features, m, temperature=temperature, seed=seed * 100_003 + i)
            bar.update(m)
    return cells


def dedupe(sampled: list[str]) -> tuple[list[str], dict[str, int]]:
    """Keep valid cells, one per canonical form (first seen), and count {sampled, valid, unique}."""
    valid = valid_archs(sampled)
    unique: dict[str, str] = {}
    for a in valid:
        unique.setdefault(canonical_form(a), a)
    return list(unique.values()), {"sampled": len(sampled), "valid": len(valid), "unique": len(unique)}


def score_cells(scorer: Scorer, archs: list[str], sample: DatasetSample, progress: bool = True) -> np.ndarray:
    """(len(archs),) scores. Pointwise scorers go in chunks under a bar; ``listwise`` ones see the whole list."""
    if getattr(scorer, "listwise", False) or len(archs) <= 32:
        return np.asarray(scorer.score(archs, sample), dtype=np.float64)
    chunk = max(16, len(archs) // 20)
    out = []
    with tqdm(total=len(archs), desc=f"scoring ({getattr(scorer, 'name', 'scorer')})", unit="cell", leave=False,
              disable=True if not progress else None) as bar:
        for s in range(0, len(archs), chunk):
            out.append(np.asarray(scorer.score(archs[s : s + chunk], sample), dtype=np.float64))
            bar.update(len(out[-1]))
    return np.concatenate(out)


def scorer_images(images: np.ndarray, size: int = 32) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, size, size) float, standardised per channel over the sample.

    The user's dataset statistics are unknown, so the sample's own mean/std stand in for the
    per-dataset normalisation NASWOT was validated with (CIFAR stats, 32x32: bench/naswot.py).
    """
    x = torch.from_numpy(resize_batch(images, size)).permute(0, 3, 1, 2).float().div_(255.0)
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    std = x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-3)
    return ((x - mean) / std).contiguous()


def dataset_name(path: str) -> str:
    """A readable name: the folder or file stem, with its parent for split folders (``cifar10/test``)."""
    p = Path(path).expanduser()
    stem = p.stem if p.suffix.lower() in (".npz", ".gz") else p.name
    return f"{p.parent.name}/{stem}" if stem.lower() in ("train", "test", "val", "valid") and p.parent.name else stem


def _dataset_sample(images: ImageSet, class_features: np.ndarray | None, name: str, image_size: int) -> DatasetSample:
    return DatasetSample(name=name, num_classes=images.num_classes, images=scorer_images(images.images, image_size),
                         labels=torch.from_numpy(images.labels),
                         features=None if class_features is None else torch.from_numpy(class_features))


def load_settings_images(settings: GenerationSettings) -> ImageSet:
    """The images ``settings`` asks for: ``settings.per_class(num_classes)`` per class at ``image_size``."""
    return load_images(settings.data, format=settings.data_format, size=settings.image_size,
                       max_per_class=settings.images_per_class, seed=settings.seed,
                       max_pixels=settings.max_pixels, progress=settings.progress,
                       max_images=settings.max_images, min_per_class=settings.min_per_class)


def embed_classes(settings: GenerationSettings, images: ImageSet,
                  extractor: FeatureExtractor | str | None) -> np.ndarray | None:
    """(num_classes, k, D) frozen features of ``images``, k = ``settings.per_class(num_classes)``;
    None when ``extractor`` is None. A name is built with ``build_extractor`` at ``feature_resolution``."""
    if extractor is None:
        return None
    if isinstance(extractor, str):
        extractor = build_extractor(extractor, settings.feature_resolution, num_threads=settings.feature_threads)
    cache = FeatureCache() if settings.feature_cache else None
    feats = extractor.extract(images.images, cache=cache, progress=settings.progress)
    return group_by_class(feats, images.labels, images.num_classes, settings.per_class(images.num_classes),
                          settings.seed)


def run_generation(settings: GenerationSettings, scorer: Scorer, generator=None,
                   extractor: FeatureExtractor | str | None = DEFAULT_EXTRACTOR,
                   name: str | None = None, images: ImageSet | None = None,
                   class_features: np.ndarray | None = None) -> tuple[GenerationResult, NB201Network]:
    """Run the whole pipeline; returns the result and the best cell's (untrained) network.

    ``images``: already loaded with ``load_settings_images(settings)`` (generate.py loads them
    before the checkpoints, so bad data is refused first); None loads them here.
    ``class_features``: already made with ``embed_classes`` (generate.py embeds while the
    checkpoints load); None makes them here with ``extractor``.

    ``extractor`` is a built FeatureExtractor or a name for ``build_extractor`` (at
    ``settings.feature_resolution``); None skips feature extraction (for search=exhaustive with
    a scorer that does not read ``DatasetSample.features``). Stages timed in ``result.timings_s``:
    load_images (when loaded here), features (when made here), generate, score, rank, and their total.
    """
    if settings.search not in SEARCHES:
        raise MetaD2AError(f"unknown search {settings.search!r}: use search=generator or search=exhaustive")
    if settings.search == "generator" and (generator is None or (extractor is None and class_features is None)):
        raise MetaD2AError("search=generator needs the graph VAE and a feature extractor: run train.py or use "
                           "search=exhaustive")
    timings: dict[str, float] = {}
    t_start = time.perf_counter()
    name = name or dataset_name(settings.data)
    if images is None:
        with timed(timings, "load_images"):
            images = load_settings_images(settings)
    if class_features is None:
        with timed(timings, "features"):
            class_features = embed_classes(settings, images, extractor)
    with timed(timings, "generate"):
        if settings.search == "exhaustive":
            candidates = unique_cells()
            gen_counts = {"sampled": 0, "valid": len(candidates), "unique": len(candidates)}
        else:
            n = settings.num_samples or DEFAULT_NUM_SAMPLES
            sampled = sample_candidates(generator, class_features, n, settings.temperature, settings.seed,
                                        settings.progress)
            candidates, gen_counts = dedupe(sampled)
        if not candidates:
            raise MetaD2AError("the generator produced no valid cells: check the generator checkpoint "
                               "(rebuild it with `python train.py`) or use search=exhaustive")
    with timed(timings, "score"):
        sample = _dataset_sample(images, class_features, name, settings.cost_input_size)
        scores = score_cells(scorer, candidates, sample, settings.progress)
        # NaN (a scorer's "cannot tell") sorts last, like -inf.
        order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")[: settings.top_k]
    with timed(timings, "rank"):
        size = (3, settings.cost_input_size, settings.cost_input_size)
        ranked = []
        for i in order:
            params, flops = network_costs(candidates[i], images.num_classes, settings.C, settings.N, size)
            ranked.append(RankedCell(candidates[i], float(scores[i]), params, flops))
        with torch.random.fork_rng(devices=[]):  # seeded initial weights, caller's RNG untouched
            torch.manual_seed(settings.seed)
            best_model = build_model(ranked[0].arch, images.num_classes, C=settings.C, N=settings.N)
    timings["total"] = round(time.perf_counter() - t_start, 4)
    notes = list(images.warnings)
    if len(candidates) < settings.top_k:
        notes.append(f"only {len(candidates)} unique candidate cells for top_k={settings.top_k}: showing all of them "
                     "(raise num_samples or temperature for more)")
        log.warning(notes[-1])
    dataset = {"name": name, "num_classes": images.num_classes, "images_used": len(images),
               "path": str(settings.data), "class_names": list(images.class_names),
               "fingerprint": images.fingerprint()}
    skipped = {"corrupt": images.n_corrupt, "non_image": images.n_non_image, "too_large": images.n_too_large,
               "linked": images.n_linked, "special": images.n_special}
    result = GenerationResult(ranked=ranked, dataset=dataset, timings_s=timings, generator=gen_counts, config={},
                              predictor=getattr(scorer, "name", type(scorer).__name__),
                              scale=getattr(scorer, "scale", ""), skipped_files=skipped,
                              warnings=notes)
    return result, best_model
