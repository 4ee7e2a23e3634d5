"""The architecture registry: name -> builder, and the two ways to get a model (build one, load a saved one).

Unknown names fail with the list of known ones. Builders take the recipe's `model` arguments from params.yaml
(`train.archs.<name>.model`), the one place where architecture settings live.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fer_platform.config import ConfigError, Params, TrainSettings
from fer_platform.config_errors import render
from fer_platform.errors import InvalidArgument, UserError

# name -> "module:function"; builders are imported lazily so listing names never imports Keras.
_BUILDERS: dict[str, str] = {
    "cnn": "fer_platform.models.cnn:build_cnn",
    "vgg19": "fer_platform.models.vgg:build_vgg19",
    "vgg13_bn": "fer_platform.models.vgg:build_vgg13_bn",
    "resnet32": "fer_platform.models.resnet:build_resnet32",
    "resnet_compact": "fer_platform.models.resnet:build_resnet_compact",
}


class UnknownArchitecture(UserError, KeyError):
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
    import fer_platform.models.photometric  # noqa: F401  (CameraAugment)


def builder_arguments(name: str) -> tuple[set[str], set[str]]:
    """(required, optional) `model` arguments of an architecture's builder, read from its source: params can be
    checked in a second without importing Keras (seconds). `augment` is the recipe's own, not a model argument."""
    module, func = _BUILDERS[name].split(":")
    spec = importlib.util.find_spec(module)
    tree = ast.parse(Path(spec.origin).read_text())
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == func)
    positional = fn.args.posonlyargs + fn.args.args
    pos_defaults = [None] * (len(positional) - len(fn.args.defaults)) + list(fn.args.defaults)
    pairs = [*zip(positional, pos_defaults, strict=True), *zip(fn.args.kwonlyargs, fn.args.kw_defaults, strict=True)]
    required = {a.arg for a, d in pairs if d is None and a.arg != "augment"}
    optional = {a.arg for a, d in pairs if d is not None}
    return required, optional


def recipe_problems(params: Params) -> list[tuple[tuple[str, ...], str]]:
    """Every architecture in params.yaml names a registered builder and gives it arguments it takes: one
    (key, message) per mistake, found when params load instead of half-way through a training."""
    problems = []
    for arch in params.architectures():
        settings = params.train_settings(arch)
        where = ("train", "archs", arch)
        if settings.architecture not in _BUILDERS:
            problems.append(((*where, "architecture") if settings.architecture != arch else where,
                             f"unknown architecture {settings.architecture!r}; known: "
                             f"{', '.join(known_architectures())} (or set architecture: to one of them)"))
            continue
        required, optional = builder_arguments(settings.architecture)
        for key in sorted(set(settings.model) - required - optional):
            problems.append(((*where, "model", key), f"not an argument of the {settings.architecture} builder; "
                             f"it takes {', '.join(sorted(required | optional))}"))
        for key in sorted(required - set(settings.model)):
            problems.append(((*where, "model", key), f"required by the {settings.architecture} builder, but not set"))
    return problems


def check_recipes(params: Params, path: str | Path) -> None:
    """Raise ConfigError with one `file:line: key: message` line per recipe mistake (see recipe_problems)."""
    items = recipe_problems(params)
    if items:
        raise ConfigError(render(Path(path), Path(path).read_text(), items), items)


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
        raise InvalidArgument(f"architecture {name!r}: bad model arguments {sorted(kwargs)}: {err}") from None
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
