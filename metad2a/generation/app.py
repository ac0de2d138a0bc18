"""generate.py's body: check the options, build the pieces from the config, run, print and write the result.

``generate(cfg)`` does the work and returns a ``GenerationOutcome`` (importable, no printing
besides progress bars); ``generate_main(cfg)`` wraps it for the command line: it prints the
table, and turns any project error into one ``error: ...`` line and exit code 2.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
from omegaconf import DictConfig, OmegaConf

from metad2a.atomic import atomic_write_json
from metad2a.errors import MetaD2AError
from metad2a.features.extractor import DEFAULT_EXTRACTOR, build_extractor
from metad2a.generation.components import Components, build_components, checkpoint_provenance
from metad2a.generation.costs import reference_costs
from metad2a.generation.example_data import EXAMPLE_NAME, cache_dir, example_folder
from metad2a.generation.model_file import save_model_file
from metad2a.generation.options import check_options
from metad2a.generation.pipeline import (GenerationSettings, embed_classes, load_settings_images, run_generation,
                                         timed)
from metad2a.generation.report import GenerationResult, format_skipped, format_table, format_timings, score_header


@dataclass
class GenerationOutcome:
    """What one generate run produced: the result (as written) and where its files went."""

    result: GenerationResult
    json_path: Path
    model_path: Path


def _output_dir() -> Path:
    from hydra.core.hydra_config import HydraConfig

    try:
        return Path(HydraConfig.get().runtime.output_dir)
    except ValueError:  # not under Hydra (tests and benches calling generate directly)
        return Path.cwd()


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` intra-op torch threads (None: leave as is), restoring the previous count."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def load_components(cfg: DictConfig, extractor, num_classes: int) -> Components:
    """``build_components`` plus the params/FLOPs reference builds: the work that needs no features.

    Run in a second thread while the main one embeds the images: most of it is importing PyG and
    reading checkpoints (single-threaded Python), which would otherwise wait for the extractor.
    """
    parts = build_components(cfg, extractor)
    size = int(cfg.network.cost_input_size)
    reference_costs(num_classes, int(cfg.network.C), int(cfg.network.N), (3, size, size))  # cached for the ranking
    return parts


def generate(cfg: DictConfig) -> GenerationOutcome:
    """Run generate.py's whole job from its config; write the JSON and the model file."""
    check_options(cfg)
    data, name = cfg.data.path, None
    if data is None:
        data, name = str(example_folder()), EXAMPLE_NAME  # written once (a few seconds), not timed
    t0 = time.perf_counter()
    settings = GenerationSettings(
        data=str(data), data_format=cfg.data.format, images_per_class=cfg.data.images_per_class,
        image_size=cfg.data.image_size, max_pixels=cfg.data.max_pixels,
        max_images=cfg.data.max_images, min_per_class=cfg.data.min_per_class,
        feature_resolution=cfg.features.resolution, search=cfg.search, num_samples=cfg.num_samples,
        temperature=cfg.temperature, top_k=cfg.top_k, C=cfg.network.C, N=cfg.network.N,
        cost_input_size=cfg.network.cost_input_size, seed=cfg.seed, feature_cache=cfg.features.cache,
        feature_threads=cfg.features.threads, progress=cfg.progress,
    )
    with torch_threads(cfg.threads):
        timings: dict[str, float] = {}
        # The data first: a bad dataset is refused in a second, not after the checkpoints load.
        with timed(timings, "load_images"):
            images = load_settings_images(settings)
        train_set, recipe = None, None
        if cfg.train_best:
            from metad2a.generation.train_best import load_train_images
            from metad2a.recipe import get_recipe

            recipe = get_recipe(str(cfg.train_recipe))
            with timed(timings, "train_best"):  # too few images per class must not wait for the ranking
                train_set = load_train_images(str(data), recipe, cfg.data.format, cfg.seed, cfg.data.max_pixels,
                                              cfg.progress)
        parts, class_features = embed_while_loading(cfg, settings, images, timings)
        result, best = run_generation(settings, parts.scorer, parts.generator, parts.extractor, name=name,
                                      images=images, class_features=class_features)
        result.checkpoints = checkpoint_provenance(predictor=parts.scorer, generator=parts.generator)
        timings |= {k: v for k, v in result.timings_s.items() if k != "total"}
        if train_set is not None:
            from metad2a.generation.train_best import train_top_cells

            with timed(timings, "train_best"):
                result.trained, result.train = train_top_cells(
                    [c.arch for c in result.ranked[: cfg.train_best_k]], train_set, recipe, seed=cfg.seed,
                    progress=cfg.progress)
    out = Path(cfg.output).expanduser() if cfg.output else _output_dir() / "generate.json"
    model_path = Path(cfg.model_file).expanduser() if cfg.model_file else out.with_name("best_model.pt")
    try:
        with timed(timings, "write"):
            save_model_file(model_path, best, C=cfg.network.C, N=cfg.network.N, in_channels=3)
        timings["total"] = round(time.perf_counter() - t0, 4)
        result.timings_s, result.model_file = timings, str(model_path)
        result.config = OmegaConf.to_container(cfg, resolve=True)
        atomic_write_json(out, result.to_json())
    except OSError as e:
        raise MetaD2AError(f"cannot write the results ({e.strerror or e}: {e.filename or out}): "
                           "pass output=<writable path> (and model_file=)") from None
    return GenerationOutcome(result, out, model_path)


def embed_while_loading(cfg: DictConfig, settings: GenerationSettings, images, timings: dict[str, float]):
    """(components, class features or None): the checkpoints load in a second thread while the
    default extractor embeds ``images`` in this one. ``timings``: setup (what the embedding did not
    hide) and features.

    search=generator always reads features, so its images are embedded before the checkpoints say
    which extractor they want; in the rare case they want another one, the images are embedded again.
    """
    early = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="load-checkpoints") as pool:
        with timed(timings, "setup"):
            if cfg.search == "generator":
                early = build_extractor(DEFAULT_EXTRACTOR, int(cfg.features.resolution),
                                        batch_size=int(cfg.features.batch_size), num_threads=cfg.features.threads)
            loading = pool.submit(load_components, cfg, early, images.num_classes)
        with timed(timings, "features"):
            class_features = embed_classes(settings, images, early) if early is not None else None
        with timed(timings, "setup"):
            parts = loading.result()
    if parts.extractor is not early:  # the checkpoints want another extractor, or none was built early
        with timed(timings, "features"):
            class_features = embed_classes(settings, images, parts.extractor)
    return parts, class_features


# What a predicted accuracy means, by the training it answers for (GenerationResult.scale).
SCALE_NOTES = {
    "nb201-200ep": "pred. acc: a ranking score on the scale of NAS-Bench-201's 200-epoch training on ImageNet16-120, "
                   "moved by what your images resemble; train_best=true measures real accuracy on your data",
}


def print_outcome(outcome: GenerationOutcome, search: str) -> None:
    """The terminal report: dataset line, generator counts, table, timings, paths."""
    r = outcome.result
    d, g = r.dataset, r.generator
    skipped = format_skipped(r.skipped_files)
    print(f"\n{d['name']}: {d['num_classes']} classes, {d['images_used']} images used"
          + (f", {skipped}" if skipped else ""))
    if search == "generator":
        print(f"generator: {g['sampled']} sampled, {g['valid']} valid, {g['unique']} unique")
    print(format_table(r.ranked, score_header(r.predictor), r.trained))
    if r.scale in SCALE_NOTES:
        print(SCALE_NOTES[r.scale])
    if r.trained:
        t = r.train
        print(f"test acc: recipe {t['recipe']} ({t['recipe_hash']}), {t['train_images']} train / "
              f"{t['test_images']} test images of your data")
    print(format_timings(r.timings_s))
    print(f"result: {outcome.json_path}\nbest model: {outcome.model_path}  "
          f"(load: from metad2a.generation.model_file import load_model_file; model = load_model_file(path))")


def generate_main(cfg: DictConfig) -> int:
    """Run generation and print the report; on bad input print one ``error:`` line (no traceback) and return 2."""
    try:
        if cfg.data.path is None:
            print(f"No data= given: using the built-in example dataset ({EXAMPLE_NAME}, "
                  f"kept in {cache_dir() / 'examples'})")
        outcome = generate(cfg)
    except MetaD2AError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    print_outcome(outcome, cfg.search)
    return 0
