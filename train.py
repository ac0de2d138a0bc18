"""Meta-train MetaD2A's generator and predictors: ``python train.py [overrides]``.

    python train.py                                   # meta_data/ database -> meta_data/checkpoints/
    python train.py data=synthetic logger=none trainer=smoke checkpoint_dir=/tmp/ck
    python train.py logger.mode=online                # sync to W&B live
    python train.py trainer.resume=false              # start over instead of resuming last.pt

Everything happens in ``metad2a.training``; this file only wires the config to it.
"""

import sys
import warnings

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from metad2a.errors import MetaD2AError
from metad2a.meta_data import export_meta_data_dir

warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)  # raised by PyG's import


@hydra.main(config_path="conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from metad2a.training.config import train_settings
    from metad2a.training.evaluate import report_held_out
    from metad2a.training.logging import make_logger
    from metad2a.training.meta_train import meta_train
    from metad2a.training.tasks import load_meta_tasks

    try:
        model_cfg, trainer_cfg = train_settings(cfg)  # refused before the data, which can take a while to load
        resolved = OmegaConf.to_container(cfg, resolve=True)
        tasks = load_meta_tasks(cfg)
        logger = make_logger(cfg.logger, resolved, dir=HydraConfig.get().runtime.output_dir)
        try:
            result = meta_train(tasks, model_cfg, trainer_cfg, cfg.checkpoint_dir, config=resolved, logger=logger,
                                seed=cfg.seed)
            print(f"checkpoints in {result.checkpoint_dir}/ (best valid: "
                  + ", ".join(f"{k}={v:.4g}" for k, v in result.best.items()) + ")")
            ev = cfg.evaluate
            report_held_out(tasks, result.checkpoint_dir, ev.split, ev.meta_test_db if ev.meta_test else None,
                            ev.meta_test_features, ev.samples, logger)
        finally:
            logger.finish()
    except MetaD2AError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    from metad2a.training.config import register_configs  # imports torch and PyG: after the warning filter

    export_meta_data_dir()  # the shipped meta_data/, from any working directory
    register_configs()  # conf/train.yaml's schema: Hydra refuses wrong types and unknown keys
    main()
