"""Running a model on faces: the one definition of "the model's probabilities" for evaluation, promotion and
the benchmarks."""

from __future__ import annotations

import numpy as np


def predict_probabilities(model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """(N, 48, 48) uint8 faces -> (N, 7) probabilities in labels.EMOTIONS order."""
    return np.asarray(model.predict(images[..., None], batch_size=batch_size, verbose=0))


def non_finite_problem(model, images: np.ndarray) -> str | None:
    """What is NaN/Inf about `model` (its weights, or its probabilities on `images`), or None if nothing.
    Such a model predicts garbage silently: it is never registered, promoted or served."""
    bad_weights = sum(int((~np.isfinite(w)).sum()) for w in model.get_weights())
    if bad_weights:
        return f"{bad_weights} weights are NaN or Inf"
    probs = predict_probabilities(model, images)
    bad_faces = int((~np.isfinite(probs)).any(axis=1).sum())
    return f"its probabilities are NaN or Inf for {bad_faces} of {len(images)} faces" if bad_faces else None
