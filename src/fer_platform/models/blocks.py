"""Layers shared by every architecture: the input contract, in-graph preprocessing and augmentation, the head.

The model takes raw uint8 pixels; rescaling happens inside the graph so training and serving cannot drift.
Augmentation is one layer (`augment.FaceAugment`): active in `fit`, identity at inference.
"""

from __future__ import annotations

import keras
from keras import layers

from fer_platform.contract import MODEL_INPUT_SHAPE
from fer_platform.labels import NUM_CLASSES
from fer_platform.models.augment import FaceAugment
from fer_platform.models.crops import FaceCrops
from fer_platform.models.photometric import CameraAugment

CAMERA_OPTIONS = ("brightness", "contrast", "gamma", "blur", "noise", "low_resolution", "jpeg")


def face_input() -> keras.KerasTensor:
    return keras.Input(shape=MODEL_INPUT_SHAPE, dtype="uint8", name="face")


def preprocess(x, augment: dict):
    """uint8 -> float in [0, 1], then train-time augmentation (flip, translation, rotation, zoom, erasing), then
    the crops if `augment["crop"]` is set (the backbone then sees crop x crop faces)."""
    # float32 whatever the global policy: under mixed_bfloat16 only the backbone computes in bfloat16.
    x = layers.Rescaling(1.0 / 255.0, name="rescale", dtype="float32")(x)
    options = {k: augment.get(k, default) for k, default in
               (("flip", False), ("translation", 0.0), ("rotation", 0.0), ("zoom", 0.0), ("erasing", 0.0))}
    if any(options.values()):
        x = FaceAugment(**options, name="augment", dtype="float32")(x)
    camera = {k: augment.get(k, 0.0) for k in CAMERA_OPTIONS}
    if any(camera.values()):  # the camera's perturbations after the framing ones, as a real frame has them
        x = CameraAugment(**camera, share=augment.get("camera_share", 1.0), name="camera_augment",
                          dtype="float32")(x)
    if augment.get("crop"):  # random crops in training, centre or ten crops at test time (models.crops)
        x = FaceCrops(augment["crop"], name="crops", dtype="float32")(x)
    return x


def classifier(x):
    # float32 softmax keeps probabilities exact under any compute dtype.
    return layers.Dense(NUM_CLASSES, activation="softmax", dtype="float32", name="probabilities")(x)
