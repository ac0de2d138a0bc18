"""Generate NB201 cells for a new image dataset: ``python generate.py data=/path/to/folder``."""

import hydra
from omegaconf import DictConfig


@hydra.main(config_path="conf", config_name="generate", version_base="1.3")
def main(cfg: DictConfig) -> None:
    source = cfg.data.path or "the built-in example dataset"
    print(f"Would embed {source}, sample cells from the graph VAE and rank them with the "
          "meta-predictor (generation is not implemented yet).")


if __name__ == "__main__":
    main()
