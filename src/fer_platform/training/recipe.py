"""A recipe's training pieces: model inputs and targets, the optimizer and schedule, class weights, the
compiled model. Keras is imported inside the functions that need it, so importing this stays instant."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from fer_platform.config import TrainSettings
from fer_platform.errors import InvalidArgument
from fer_platform.labels import NUM_CLASSES
from fer_platform.models import build_recipe_model


def as_model_input(images: np.ndarray) -> np.ndarray:
    return images[..., None]


def one_hot(labels: np.ndarray) -> np.ndarray:
    return np.eye(NUM_CLASSES, dtype="float32")[labels]


def class_weights(labels: np.ndarray, mode: str) -> dict[int, float] | None:
    if mode == "none":
        return None
    counts = np.bincount(labels, minlength=NUM_CLASSES).astype(float)
    weights = len(labels) / (NUM_CLASSES * np.maximum(counts, 1))
    if mode == "sqrt":
        weights = np.sqrt(weights)
    weights = weights / (weights * counts).sum() * counts.sum()  # mean weight per image stays 1
    return {c: float(w) for c, w in enumerate(weights)}


def make_optimizer(settings: TrainSettings, steps_per_epoch: int):
    import keras  # start-up cost: only a training pays for Keras

    lr = settings.learning_rate
    if settings.schedule == "cosine":
        warmup = settings.warmup_epochs * steps_per_epoch
        total = settings.epochs * steps_per_epoch
        lr = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=lr / 10 if warmup else lr,
            decay_steps=max(total - warmup, 1),
            alpha=0.01,
            warmup_target=lr if warmup else None,
            warmup_steps=warmup,
        )
    elif settings.schedule == "step":
        lr = keras.optimizers.schedules.ExponentialDecay(
            lr, decay_steps=settings.step_epochs * steps_per_epoch, decay_rate=settings.step_factor, staircase=True)
    # "plateau" keeps a plain learning rate: the optimizer's variable, lowered by `schedule_callbacks`.
    if settings.optimizer == "adamw":
        return keras.optimizers.AdamW(learning_rate=lr, weight_decay=settings.weight_decay)
    if settings.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=lr)
    # SGD's weight decay is decoupled here too (Keras applies it to the weights, as AdamW does).
    return keras.optimizers.SGD(learning_rate=lr, momentum=settings.momentum, nesterov=settings.nesterov,
                                weight_decay=settings.weight_decay or None)


def build_before_tracing(model, x, y) -> None:
    """Create the variables a first train step would (the optimizer's slots, the metrics' totals) before fit
    traces that step. On TensorFlow without a distribution strategy, Keras creates them inside the traced
    step, and tf.function then traces it twice. Keras's own symbolic build (what it runs itself under a
    strategy; private in Keras 3.15, which uv.lock pins), from one batch's shapes: the same weights after
    training, and a resnet_compact's first quick-profile epoch took 6.4 CPU-s instead of 13.1."""
    import keras  # start-up cost, as above

    if keras.backend.backend() == "tensorflow" and getattr(model, "_distribute_strategy", None) is None:
        model._symbolic_build(data_batch=(x, y, None))


def schedule_callbacks(settings: TrainSettings) -> list:
    """Callbacks a schedule needs during fit: reduce-on-plateau watches PublicTest accuracy (selection data, never
    PrivateTest). Its patience counter restarts after a resume; the lowered rate itself is in the checkpoint."""
    if settings.schedule != "plateau":
        return []
    import keras  # start-up cost, as above

    return [keras.callbacks.ReduceLROnPlateau(monitor="val_accuracy", mode="max", factor=settings.plateau_factor,
                                              patience=settings.plateau_patience,
                                              min_lr=settings.learning_rate * 1e-3, verbose=0)]


REGISTRY_PREFIXES = ("models:/", "runs:/")
# Downloaded warm starts, by store and concrete version (reused by later runs; a few MB each).
INIT_FROM_CACHE = Path(tempfile.gettempdir()) / "fer-init-from"


def init_from_file(ref: str) -> Path:
    """init_from as a local file: a path as it is; a logged or registered model (`models:/fer-classifier@champion`,
    `models:/NAME/VERSION`, `runs:/RUN/model`) from the MLflow store, its alias resolved now. The checkpoint
    fingerprint hashes the file, so an alias that moved starts another training, and a resumed one resumes."""
    if not ref.startswith(REGISTRY_PREFIXES):
        return Path(ref)
    from fer_platform.tracking.model_logging import download_keras_file  # MLflow: only for a registry URI

    try:
        return download_keras_file(ref, INIT_FROM_CACHE)
    except Exception as err:  # an unknown alias, name or run, a store that cannot be read: one line
        raise InvalidArgument(f"train init_from: {ref} cannot be read from the MLflow store: "
                              f"{str(err).splitlines()[0][:300]}") from err


def check_init_from(path: str | None) -> Path | None:
    """The warm start's local file; a missing file or model is one line before anything trains (the checkpoint
    fingerprint reads it)."""
    if not path:
        return None
    local = init_from_file(path)
    if not local.is_file():
        raise InvalidArgument(f"train init_from: {path} not found (a saved model.keras of the same graph, or a "
                              "registered model: models:/NAME@ALIAS)")
    return local


def warm_start(model, path: str, init_weights: Path | None = None) -> None:
    """Copy the weights of the saved model at `path` into `model`, layer by weight-bearing layer in graph
    order; any difference in the weights' shapes is an error naming the first one (another architecture or
    other builder arguments), never a silent partial load. `init_weights`: `path` already resolved by the
    training (the version its checkpoint fingerprint hashed), so an alias that moves meanwhile swaps nothing."""
    from fer_platform.models import load_model

    source = load_model(init_weights or check_init_from(path))
    ours = [w.shape for w in model.get_weights()]
    theirs = [w.shape for w in source.get_weights()]
    if ours != theirs:
        first = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
        raise InvalidArgument(f"train init_from: {path} is another graph ({len(theirs)} weight tensors, this recipe "
                              f"has {len(ours)}; the first difference is tensor {first}: "
                              f"{theirs[first] if first < len(theirs) else 'none'} vs "
                              f"{ours[first] if first < len(ours) else 'none'})")
    model.set_weights(source.get_weights())


def build_compiled(settings: TrainSettings, steps_per_epoch: int, init_weights: Path | None = None):
    """A new model of the recipe, compiled; warm-started from `init_weights` (init_from resolved by the caller)
    or else from init_from itself."""
    import keras  # start-up cost, as above

    model = build_recipe_model(settings)
    if settings.init_from:
        warm_start(model, settings.init_from, init_weights)
    model.compile(
        optimizer=make_optimizer(settings, steps_per_epoch),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=settings.label_smoothing),
        metrics=["accuracy"],
    )
    return model
