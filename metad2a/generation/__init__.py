"""From a new image dataset to a ranked list of NB201 cells (the work behind generate.py)."""
