"""Mixup (Zhang et al. 2018) as the training data: each batch is a convex mix of its faces and labels with a
shuffled copy of itself, lam ~ Beta(alpha, alpha) per batch. A Keras PyDataset, so it works on every backend;
faces stay uint8 (the mix is rounded: at most half a grey level off), because the model's input is uint8."""

from __future__ import annotations

import math

import numpy as np


def mixup_batches(x: np.ndarray, y: np.ndarray, batch_size: int, alpha: float, seed: int):
    """A PyDataset of (faces, soft labels) batches; a new order and new partners every epoch."""
    import keras  # start-up cost: only a training pays for Keras

    class MixupBatches(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__(workers=1, use_multiprocessing=False)
            self.rng = np.random.default_rng(seed)
            self.order = self.rng.permutation(len(x))

        def __len__(self) -> int:
            return math.ceil(len(x) / batch_size)

        def __getitem__(self, index: int):
            members = self.order[index * batch_size:(index + 1) * batch_size]
            partners = self.rng.permutation(members)
            lam = float(self.rng.beta(alpha, alpha))
            faces = np.rint(lam * x[members] + (1 - lam) * x[partners]).astype(np.uint8)
            return faces, (lam * y[members] + (1 - lam) * y[partners]).astype(np.float32)

        def on_epoch_end(self) -> None:
            self.order = self.rng.permutation(len(x))

    return MixupBatches()
