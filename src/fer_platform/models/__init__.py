"""Architectures and their builders (backend-agnostic Keras 3). Importing this does not import Keras."""

from fer_platform.models.architectures import build_model, build_recipe_model, known_architectures, load_model

__all__ = ["build_model", "build_recipe_model", "known_architectures", "load_model"]
