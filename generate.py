"""Generate NB201 cells for a new image dataset: ``python generate.py data=/path/to/folder``."""

import sys

import hydra
from omegaconf import DictConfig

from metad2a.generation.cli import expand_shorthands


@hydra.main(config_path="conf", config_name="generate", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from metad2a.generation.app import generate_main

    sys.exit(generate_main(cfg))


if __name__ == "__main__":
    sys.argv[1:] = expand_shorthands(sys.argv[1:])
    main()
