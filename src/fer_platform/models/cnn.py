"""The paper's 8-layer CNN (Jain & Acharya 2019, Figure 2)."""

from __future__ import annotations

import keras
from keras import layers

from fer_platform.errors import InvalidArgument
from fer_platform.models.blocks import classifier, face_input, preprocess

CNN_WIDTHS = (64, 128, 256)


def build_cnn(augment: dict, *, dropout: float, dense_units: int, widths: list[int] | None = None) -> keras.Model:
    """Conv64 5x5 x2, BN, pool; Conv128 3x3 x2, BN, pool; Conv256 3x3 x2, BN, pool;
    (Dense + BN + ReLU + Dropout) x2; softmax 7. `widths` narrows the three stages (the quick profile's small
    graphs: same layers, same code paths, a fraction of the compute)."""
    widths = list(CNN_WIDTHS if widths is None else widths)
    if len(widths) != len(CNN_WIDTHS):
        raise InvalidArgument(f"cnn widths must have {len(CNN_WIDTHS)} entries, got {widths}")
    inputs = face_input()
    x = preprocess(inputs, augment)
    for stage, (filters, kernel) in enumerate(zip(widths, (5, 3, 3), strict=True), start=1):
        for i in (1, 2):
            x = layers.Conv2D(filters, kernel, padding="same", activation="relu", name=f"conv{stage}_{i}")(x)
        x = layers.BatchNormalization(name=f"bn{stage}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{stage}")(x)
    x = layers.Flatten(name="flatten")(x)
    for i in (1, 2):
        x = layers.Dense(dense_units, name=f"fc{i}")(x)
        x = layers.BatchNormalization(name=f"fc{i}_bn")(x)
        x = layers.Activation("relu", name=f"fc{i}_relu")(x)
        x = layers.Dropout(dropout, name=f"fc{i}_dropout")(x)
    return keras.Model(inputs, classifier(x), name="cnn")
