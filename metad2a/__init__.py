"""metad2a: pick a NAS-Bench-201 cell for a new image dataset without training candidates.

The NB201 string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` is the public currency of the API.
"""

__version__ = "0.1.0"
