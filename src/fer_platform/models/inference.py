"""Running a model on faces: the one definition of "the model's probabilities" for evaluation, promotion and
the benchmarks."""

from __future__ import annotations

import numpy as np


def predict_probabilities(model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """(N, 48, 48) uint8 faces -> (N, 7) probabilities in labels.EMOTIONS order."""
    return np.asarray(model.predict(images[..., None], batch_size=batch_size, verbose=0))
