"""Data-parallel training through the Keras 3 distribution API (`train.common.distribution`).

Keras' distribution API runs on the JAX backend only: with KERAS_BACKEND=jax, `data_parallel` replicates the
model on every visible device (all GPUs of a host, or the one CPU device here) and splits each batch between
them. The recipe and its results do not change (same global batch), so it is not part of a checkpoint's
fingerprint: a run started on one GPU can resume on four.
"""

from __future__ import annotations

from fer_platform.config import TrainSettings
from fer_platform.errors import UserError


class DistributionUnavailable(UserError):
    pass


def apply_distribution(settings: TrainSettings) -> str | None:
    """Set Keras' global distribution for the model about to be built; a one-line description, or None."""
    if settings.distribution == "none":
        return None
    import keras

    if keras.backend.backend() != "jax":
        raise DistributionUnavailable(
            f"distribution: {settings.distribution} needs the JAX backend (KERAS_BACKEND=jax), not "
            f"{keras.backend.backend()}; or set train.common.distribution: none")
    devices = keras.distribution.list_devices()
    if settings.batch_size % len(devices):
        raise DistributionUnavailable(f"batch_size {settings.batch_size} does not split over {len(devices)} devices")
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    return f"data_parallel over {len(devices)} device(s): {', '.join(devices)}"
