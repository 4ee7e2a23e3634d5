"""The paper's VGG19 variant for 48x48 faces (Figure 8)."""

from __future__ import annotations

import keras
from keras import layers

from fer_platform.models.blocks import classifier, face_input, preprocess

VGG19_GROUPS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))


def build_vgg19(augment: dict, *, dropout: float, dense_units: int, batch_norm: bool) -> keras.Model:
    """3x3 convs 64,64 | 128,128 | 256x3 | 512x3 | 512x3, 2x2 max-pool after each group;
    (Dense + Dropout) x2; softmax 7. `batch_norm` adds BN after every conv (our improved variant)."""
    inputs = face_input()
    x = preprocess(inputs, augment)
    for g, (filters, convs) in enumerate(VGG19_GROUPS, start=1):
        for i in range(1, convs + 1):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=not batch_norm, name=f"conv{g}_{i}")(x)
            if batch_norm:
                x = layers.BatchNormalization(name=f"conv{g}_{i}_bn")(x)
            x = layers.Activation("relu", name=f"conv{g}_{i}_relu")(x)
        x = layers.MaxPooling2D(2, name=f"pool{g}")(x)
    x = layers.Flatten(name="flatten")(x)
    for i in (1, 2):
        x = layers.Dense(dense_units, activation="relu", name=f"fc{i}")(x)
        x = layers.Dropout(dropout, name=f"fc{i}_dropout")(x)
    return keras.Model(inputs, classifier(x), name="vgg19")
