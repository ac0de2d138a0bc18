"""Project exception types, raised at the boundaries with one actionable line each."""


class MetaD2AError(Exception):
    """Base class: every error the project raises on purpose derives from this."""


class ConfigError(MetaD2AError, ValueError):
    """A setting is out of range or conflicts with another (types and unknown keys are Hydra's to refuse)."""


class InvalidArchError(MetaD2AError, ValueError):
    """An NB201 architecture string, tuple or index is malformed."""


class DataError(MetaD2AError, ValueError):
    """User data (an image folder, an idx/npz file) cannot be used as given."""


class SharedDataError(MetaD2AError, FileNotFoundError):
    """A file expected under the shared data directory is missing."""


class CheckpointError(MetaD2AError, RuntimeError):
    """A checkpoint is missing or incompatible with this code."""
