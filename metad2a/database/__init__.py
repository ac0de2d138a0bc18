"""The meta-training database: tasks, (task, cell, seed, recipe) records, features."""
