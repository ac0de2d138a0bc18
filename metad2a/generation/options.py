"""generate.py's options: out-of-range values and conflicting combinations, refused in one line each.

Checked before anything slow is loaded; the data itself is loaded next, before the checkpoints
(``metad2a.generation.app.generate``), so a bad dataset is refused early too.
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from metad2a.data.load import FORMATS
from metad2a.data.paths import check_data_path
from metad2a.errors import DataError, MetaD2AError
from metad2a.generation.config import GenerateConfig
from metad2a.generation.pipeline import DEFAULT_NUM_SAMPLES, SEARCHES
from metad2a.schema import refuse_unknown_keys

NUM_UNIQUE_CELLS = 6466  # NB201 cells up to isomorphism (NB201 convention): what search=exhaustive scores


def _fail(key: str, msg: str) -> None:
    raise MetaD2AError(f"{key}: {msg}")


def check_data_format(path: str, fmt: str) -> None:
    """Refuse a ``path`` that is no folder or regular file, or a ``data.format`` that cannot describe it."""
    if fmt not in FORMATS:
        _fail("data.format", f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    p = check_data_path(path)  # missing, a broken link, a FIFO...: said before anything is read
    if fmt == "npz" and p.is_dir():
        raise DataError(f"data.format=npz but {p} is a folder: pass the .npz file itself, or data.format=auto")
    if fmt == "idx" and p.is_file() and p.suffix.lower() == ".npz":
        raise DataError(f"data.format=idx but {p} is an .npz file: use data.format=npz or data.format=auto")
    if fmt == "folder" and p.is_file():
        raise DataError(f"data.format=folder but {p} is a file: pass the folder of class sub-folders, "
                        "or data.format=auto for .npz/idx files")


def check_options(cfg: DictConfig) -> None:
    """Refuse out-of-range and conflicting options before any slow work, one line each."""
    refuse_unknown_keys(cfg, GenerateConfig)  # what Hydra lets through with +key=...
    for key in ("top_k", "data.images_per_class", "data.min_per_class", "data.image_size", "data.max_pixels",
                "features.resolution", "features.batch_size",
                "network.C", "network.N", "network.cost_input_size"):
        v = OmegaConf.select(cfg, key)
        if not isinstance(v, int) or v < 1:
            _fail(key, f"must be a positive integer, got {v!r}")
    if cfg.search not in SEARCHES:
        _fail("search", f"unknown search {cfg.search!r}: use search=generator or search=exhaustive")
    if cfg.num_samples is not None and (not isinstance(cfg.num_samples, int) or cfg.num_samples < 1):
        _fail("num_samples", f"must be a positive integer (or null for {DEFAULT_NUM_SAMPLES}), got {cfg.num_samples!r}")
    for key in ("threads", "features.threads", "data.max_images"):
        v = OmegaConf.select(cfg, key)
        if v is not None and (not isinstance(v, int) or v < 1):
            _fail(key, f"must be a positive integer or null, got {v!r}")
    if not float(cfg.temperature) > 0:
        _fail("temperature", f"must be > 0, got {cfg.temperature}")
    if cfg.search == "exhaustive":
        if cfg.num_samples is not None:
            raise MetaD2AError(f"num_samples={cfg.num_samples} conflicts with search=exhaustive (which scores all "
                               f"{NUM_UNIQUE_CELLS:,} unique cells): drop num_samples, or use search=generator")
        if cfg.top_k > NUM_UNIQUE_CELLS:
            _fail("top_k", f"{cfg.top_k} is more than the {NUM_UNIQUE_CELLS:,} unique cells: lower top_k")
        members = cfg.predictor.get("members") or []
        targets = [cfg.predictor.get("_target_", "")] + [m.get("_target_", "") for m in members]
        if any(str(t).endswith("NASWOTScorer") for t in targets) and not cfg.allow_slow:
            raise MetaD2AError(f"search=exhaustive with predictor=naswot scores {NUM_UNIQUE_CELLS:,} networks (~3 h on "
                               "a CPU): use search=generator, or add allow_slow=true")
    else:
        n = cfg.num_samples or DEFAULT_NUM_SAMPLES
        if cfg.top_k > n:
            _fail("top_k", f"{cfg.top_k} is more than the {n} cells sampled (num_samples): lower top_k or raise "
                           "num_samples")
    if cfg.data.path is not None and not str(cfg.data.path).strip():
        _fail("data", "is empty: pass data=/path/to/folder, or leave data= out for the built-in example")
    if cfg.data.path is not None:
        check_data_format(str(cfg.data.path), cfg.data.format)
    elif cfg.data.format not in ("auto", "folder"):
        _fail("data.format", f"{cfg.data.format} needs data=<path> (the built-in example is an image folder)")
    if cfg.train_best:
        from metad2a.recipe import get_recipe

        get_recipe(str(cfg.train_recipe))  # RecipeError names the valid recipes
        if not isinstance(cfg.train_best_k, int) or not 1 <= cfg.train_best_k <= cfg.top_k:
            _fail("train_best_k", f"must be between 1 and top_k={cfg.top_k}, got {cfg.train_best_k!r}")
