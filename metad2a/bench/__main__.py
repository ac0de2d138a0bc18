"""``python -m metad2a.bench [overrides]``: the transfer benchmark (config ``conf/bench/default.yaml``).

    python -m metad2a.bench                                    # every method, meta_data/ -> bench/results/
    python -m metad2a.bench 'only=[metad2a,random,oracle]' logger=none
    python -m metad2a.bench --config-name tiny meta_data_dir=/tmp/tiny   # a quick run on a small database

Everything happens in ``metad2a.bench.app``; this file only wires Hydra to it.
"""

import sys
import warnings
from pathlib import Path

import hydra
from omegaconf import DictConfig

from metad2a.bench.app import bench_main
from metad2a.bench.config import register_configs

warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)  # raised by PyG's import
CONF = Path(__file__).resolve().parents[2] / "conf" / "bench"


@hydra.main(config_path=str(CONF), config_name="default", version_base="1.3")
def main(cfg: DictConfig) -> None:
    sys.exit(bench_main(cfg))


if __name__ == "__main__":
    register_configs()  # conf/bench/default.yaml's schema: Hydra refuses wrong types and unknown keys
    main()
