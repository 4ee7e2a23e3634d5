"""Architecture registry and builders (backend-agnostic Keras 3). Importing this does not import Keras."""

from fer_platform.models.registry import build_model, known_architectures

__all__ = ["build_model", "known_architectures"]
