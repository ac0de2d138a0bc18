"""Cell scorers behind one protocol (``metad2a.predictors.base.Scorer``).

Each scorer is picked from Hydra with ``predictor=<name>`` (``conf/predictor/<name>.yaml``
holds its ``_target_``), so there is no registry here beyond the configs.
"""

from metad2a.predictors.base import DatasetSample, Scorer

__all__ = ["DatasetSample", "Scorer"]
