"""Generate NB201 cells for a new image dataset: ``python generate.py data=/path/to/folder``.

    python generate.py                                    # the built-in example (scikit-learn digits)
    python generate.py data=/path/to/folder               # an ImageFolder (or its train/ subfolder)
    python generate.py data=/path/x.npz predictor=ensemble train_best=true

Paths need no quoting for Hydra (``data=/data/猫`` and ``data=/data/a,b`` work); with ``-m`` a comma
separates sweep values (``metad2a.generation.cli``). Everything happens in ``metad2a.generation``;
this file only wires the config to it.
"""

import sys
import warnings

import hydra
from omegaconf import DictConfig

from metad2a.generation.cli import expand_shorthands
from metad2a.generation.config import register_configs
from metad2a.meta_data import export_meta_data_dir

warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)  # raised by PyG's import


@hydra.main(config_path="conf", config_name="generate", version_base="1.3")
def main(cfg: DictConfig) -> None:
    from metad2a.generation.app import generate_main

    sys.exit(generate_main(cfg))


if __name__ == "__main__":
    export_meta_data_dir()  # the shipped meta_data/, from any working directory
    sys.argv[1:] = expand_shorthands(sys.argv[1:])  # data=PATH -> data.path='PATH', quoted for Hydra
    register_configs()  # conf/generate.yaml's schema: Hydra refuses wrong types and unknown keys
    main()
