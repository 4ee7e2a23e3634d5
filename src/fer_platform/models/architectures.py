"""The architecture registry: name -> builder, and the two ways to get a model (build one, load a saved one).

Unknown names fail with the list of known ones. Builders take the recipe's `model` arguments from params.yaml
(`train.archs.<name>.model`), the one place where architecture settings live.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from fer_platform.config import TrainSettings

# name -> "module:function"; builders are imported lazily so listing names never imports Keras.
_BUILDERS: dict[str, str] = {
    "cnn": "fer_platform.models.cnn:build_cnn",
    "vgg19": "fer_platform.models.vgg:build_vgg19",
    "vgg13_bn": "fer_platform.models.vgg:build_vgg13_bn",
    "resnet32": "fer_platform.models.resnet:build_resnet32",
    "resnet_compact": "fer_platform.models.resnet:build_resnet_compact",
}


class UnknownArchitecture(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def known_architectures() -> list[str]:
    return sorted(_BUILDERS)


def get_builder(name: str) -> Callable[..., Any]:
    if name not in _BUILDERS:
        raise UnknownArchitecture(f"unknown architecture {name!r}; known: {', '.join(known_architectures())}")
    module, func = _BUILDERS[name].split(":")
    return getattr(importlib.import_module(module), func)


def register_layers() -> None:
    """Register our custom layers with Keras; any deserialisation of our models needs this first."""
    # Imported here, not at the top: the module imports Keras (seconds), and listing architectures must not.
    import fer_platform.models.augment  # noqa: F401  (its decorator registers FaceAugment)
    import fer_platform.models.crops  # noqa: F401  (FaceCrops, CropAverage)


def load_model(path, compile: bool = True):
    """keras.saving.load_model with our custom layers registered (models saved by this package use them)."""
    import keras  # start-up cost: only callers that load a model pay for Keras

    register_layers()
    return keras.saving.load_model(path, compile=compile)


def build_model(name: str, augment: dict | None = None, **kwargs: Any):
    """Build an uncompiled Keras model taking raw (N, 48, 48, 1) uint8 faces, returning 7 probabilities."""
    try:
        model = get_builder(name)(augment=augment or {}, **kwargs)
    except TypeError as err:  # a params.yaml key the builder does not take, or one it needs is missing
        raise ValueError(f"architecture {name!r}: bad model arguments {sorted(kwargs)}: {err}") from None
    if (augment or {}).get("crop"):
        from fer_platform.models.crops import add_crop_average

        model = add_crop_average(model)  # the probabilities averaged over the test-time crops
    return model


def build_recipe_model(settings: TrainSettings):
    """The recipe's model: its architecture with params.yaml's `model` arguments and augmentation."""
    return build_model(settings.architecture, augment=settings.augment.model_dump(), **settings.model)


def weights_only(model, settings: TrainSettings):
    """The recipe's graph rebuilt from the registry (same layer names) carrying `model`'s weights and no
    optimizer state: a third of the file, for releases and for what a training host sends back."""
    clean = build_recipe_model(settings)
    clean.set_weights(model.get_weights())
    return clean
