"""Architecture registry and builders (backend-agnostic Keras 3). Importing this does not import Keras."""

from fer_platform.models.registry import build_model, known_architectures, load_model

__all__ = ["build_model", "known_architectures", "load_model"]
