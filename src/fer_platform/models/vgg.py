"""VGG networks for 48x48 faces: the paper's VGG19 (Figure 8) and VGG-13 with BatchNorm in the style of the best
from-scratch FER2013 results (Khaireddin & Chen 2021: four stages of two 3x3 convs with BN, trained on random
40-px crops with SGD + Nesterov and reduce-on-plateau; 73.28% reported)."""

from __future__ import annotations

import keras
from keras import layers

from fer_platform.errors import InvalidArgument
from fer_platform.models.blocks import classifier, face_input, preprocess

VGG19_GROUPS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
VGG13_BN_GROUPS = ((64, 2), (128, 2), (256, 2), (512, 2))


def build_vgg19(augment: dict, *, dropout: float, dense_units: int, batch_norm: bool,
                widths: list[int] | None = None) -> keras.Model:
    """3x3 convs 64,64 | 128,128 | 256x3 | 512x3 | 512x3, 2x2 max-pool after each group;
    (Dense + Dropout) x2; softmax 7. `batch_norm` adds BN after every conv (our improved variant); `widths`
    narrows the five groups (the quick profile's small graphs)."""
    groups = VGG19_GROUPS
    if widths is not None:
        if len(widths) != len(VGG19_GROUPS):
            raise InvalidArgument(f"vgg19 widths must have {len(VGG19_GROUPS)} entries, got {list(widths)}")
        groups = tuple((w, convs) for w, (_, convs) in zip(widths, VGG19_GROUPS, strict=True))
    return _vgg(augment, groups, dropout, dense_units, batch_norm, "vgg19")


def build_vgg13_bn(augment: dict, *, dropout: float, dense_units: int, widths: list[int] | None = None) -> keras.Model:
    """Two 3x3 conv + BN + ReLU per stage at 64 | 128 | 256 | 512 filters (or `widths`), 2x2 max-pool after
    each; (Dense + Dropout) x2; softmax 7. At 40-px crops and 4096 dense units: ~30 M parameters."""
    groups = VGG13_BN_GROUPS if widths is None else tuple((w, 2) for w in widths)
    return _vgg(augment, groups, dropout, dense_units, True, "vgg13_bn")


def _vgg(augment: dict, groups, dropout: float, dense_units: int, batch_norm: bool, name: str) -> keras.Model:
    inputs = face_input()
    x = preprocess(inputs, augment)
    for g, (filters, convs) in enumerate(groups, start=1):
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
    return keras.Model(inputs, classifier(x), name=name)
