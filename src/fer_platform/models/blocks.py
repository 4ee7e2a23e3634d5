"""Layers shared by every architecture: the input contract, in-graph preprocessing and augmentation, the head.

The model takes raw uint8 pixels; rescaling happens inside the graph so training and serving cannot drift.
Augmentation layers are Keras preprocessing layers: active in `fit`, identity at inference.
"""

from __future__ import annotations

import keras
from keras import layers

from fer_platform.contract import MODEL_INPUT_SHAPE
from fer_platform.labels import NUM_CLASSES


def face_input() -> keras.KerasTensor:
    return keras.Input(shape=MODEL_INPUT_SHAPE, dtype="uint8", name="face")


def preprocess(x, augment: dict):
    """uint8 -> float in [0, 1], then train-time augmentation (flip, translation, rotation, zoom)."""
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(x)
    if augment.get("flip", False):
        x = layers.RandomFlip("horizontal", name="aug_flip")(x)
    if t := augment.get("translation", 0.0):
        x = layers.RandomTranslation(t, t, fill_mode="reflect", name="aug_translate")(x)
    if r := augment.get("rotation", 0.0):
        x = layers.RandomRotation(r, fill_mode="reflect", name="aug_rotate")(x)
    if z := augment.get("zoom", 0.0):
        x = layers.RandomZoom((-z, z), fill_mode="reflect", name="aug_zoom")(x)
    return x


def classifier(x):
    # float32 softmax keeps probabilities exact under any compute dtype.
    return layers.Dense(NUM_CLASSES, activation="softmax", dtype="float32", name="probabilities")(x)
