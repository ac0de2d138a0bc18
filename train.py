"""Meta-train MetaD2A's generator and predictor: ``python train.py [overrides]``."""

import hydra
from omegaconf import DictConfig, OmegaConf


@hydra.main(config_path="conf", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> None:
    print(OmegaConf.to_yaml(cfg))
    print(f"Would meta-train the set encoder, graph VAE and predictor from {cfg.meta_data_dir}/ "
          "(meta-training is not implemented yet).")


if __name__ == "__main__":
    main()
