"""Cell-training recipes (``Recipe``, ``MINI``, ``FULL``, ``recipe_hash``) and ``train_cell``."""

from metad2a.recipe.recipes import FULL, MINI, RECIPES, TRUTH, Recipe, RecipeError, canonical_json, get_recipe, recipe_hash
from metad2a.recipe.train_cell import train_cell

__all__ = ["FULL", "MINI", "RECIPES", "TRUTH", "Recipe", "RecipeError", "canonical_json", "get_recipe", "recipe_hash",
           "train_cell"]
