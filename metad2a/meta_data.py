"""Where the project's own products live: the collected database, features and checkpoints.

``$METAD2A_META_DATA`` when set; otherwise the ``meta_data/`` folder shipped beside the package
(a source checkout), so generate.py and train.py find it from any working directory; otherwise
``./meta_data``.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV = "METAD2A_META_DATA"
_SHIPPED = Path(__file__).resolve().parent.parent / "meta_data"


def meta_data_dir() -> Path:
    """The meta_data folder (see the module docstring); it may not exist yet."""
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    return _SHIPPED if _SHIPPED.is_dir() else Path("meta_data")


def export_meta_data_dir() -> None:
    """Set ``$METAD2A_META_DATA`` for the Hydra configs (``${oc.env:METAD2A_META_DATA,...}``) if unset."""
    os.environ.setdefault(ENV, str(meta_data_dir()))
