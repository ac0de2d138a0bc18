"""generate.py's body: build the pieces from the config, run, print and write the result."""

from __future__ import annotations

import sys
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from metad2a.atomic import atomic_write_json
from metad2a.errors import MetaD2AError
from metad2a.generation.example_data import EXAMPLE_NAME, example_folder
from metad2a.generation.model_file import save_model_file
from metad2a.generation.pipeline import GenerationSettings, run_generation
from metad2a.generation.report import format_table


def _output_dir() -> Path:
    try:
        return Path(HydraConfig.get().runtime.output_dir)
    except ValueError:  # not under Hydra (tests calling generate_main directly)
        return Path.cwd()


def generate_main(cfg: DictConfig) -> int:
    """Run generation; print a one-line error (no traceback) and return 2 on bad input."""
    try:
        return _run(cfg)
    except MetaD2AError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _check_options(cfg: DictConfig) -> None:
    for key in ("num_samples", "top_k"):
        if int(cfg[key]) < 1:
            raise MetaD2AError(f"{key} must be at least 1, got {cfg[key]}")
    if int(cfg.data.images_per_class) < 1:
        raise MetaD2AError(f"data.images_per_class must be at least 1, got {cfg.data.images_per_class}")
    target = str(cfg.predictor.get("_target_", ""))
    if cfg.search == "exhaustive" and target.endswith("NASWOTScorer") and not cfg.get("allow_slow", False):
        raise MetaD2AError("search=exhaustive with predictor=naswot scores 6,466 networks (~3 h on a CPU): "
                           "use search=generator, or add +allow_slow=true")


def _run(cfg: DictConfig) -> int:
    data, name = cfg.data.path, None
    if data is None:
        data, name = str(example_folder()), EXAMPLE_NAME
        print(f"No data= given: using the built-in example dataset ({EXAMPLE_NAME}) at {data}")
    _check_options(cfg)
    scorer = instantiate(cfg.predictor)
    generator = None
    if cfg.search == "generator":
        from metad2a.predictors.meta import MetaGenerator

        generator = MetaGenerator(cfg.get("generator_checkpoint"))
    extractor = getattr(scorer, "feature_extractor", None) or (generator.feature_extractor if generator else None)
    settings = GenerationSettings(
        data=str(data), data_format=cfg.data.format, images_per_class=cfg.data.images_per_class,
        image_size=cfg.data.image_size, search=cfg.search, num_samples=cfg.num_samples,
        temperature=cfg.temperature, top_k=cfg.top_k, C=cfg.network.C, N=cfg.network.N,
        cost_input_size=cfg.network.cost_input_size, seed=cfg.seed, progress=cfg.progress,
    )
    result, best = run_generation(settings, scorer, generator, extractor_name=extractor or "efficientnet_lite0",
                                  name=name)
    result.config = OmegaConf.to_container(cfg, resolve=True)
    out = Path(cfg.output) if cfg.output else _output_dir() / "generate.json"
    model_path = Path(cfg.model_file) if cfg.model_file else out.with_name("best_model.pt")
    save_model_file(model_path, best, C=cfg.network.C, N=cfg.network.N, in_channels=3)
    atomic_write_json(out, result.to_json())
    d, g, t = result.dataset, result.generator, result.timings_s
    print(f"\n{d['name']}: {d['num_classes']} classes, {d['images_used']} images used"
          + (f", {result.skipped_files} files skipped" if result.skipped_files else ""))
    if cfg.search == "generator":
        print(f"generator: {g['sampled']} sampled, {g['valid']} valid, {g['unique']} unique")
    print(format_table(result.ranked, "pred. acc" if "meta" in getattr(scorer, "name", "") else "score"))
    print("timings (s): " + ", ".join(f"{k} {v:.2f}" for k, v in t.items()))
    print(f"result: {out}\nbest model: {model_path}  (load: metad2a.generation.model_file.load_model_file(path))")
    return 0
