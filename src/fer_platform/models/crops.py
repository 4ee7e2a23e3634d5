"""Random-crop training and crop test-time augmentation, inside the graph (`train.common.augment.crop`).

The best from-scratch FER2013 recipes train on random crops (40-44 px of 48) and average ten crops at test
time: the four corners and the centre, each also mirrored. Here the model keeps the image contract (48x48
uint8 in, 7 probabilities out): `FaceCrops` cuts the crops after preprocessing and `CropAverage` averages the
backbone's probabilities over them, so what is evaluated is what is served. Neither has weights, so the same
trained weights serve as `centre` (one crop, the default) or `ten_crop` (ten times the backbone's work):
`with_tta` swaps the mode of a built model.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from fer_platform.errors import InvalidArgument

TTA_CROPS = {"centre": 1, "ten_crop": 10}


@keras.saving.register_keras_serializable(package="fer_platform")
class FaceCrops(keras.layers.Layer):
    """Training: one random `size` x `size` crop per image. Inference: the centre crop, or the ten crops
    stacked crop-major (crop k of image i at row k * N + i)."""

    def __init__(self, size: int, tta: str = "centre", seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if tta not in TTA_CROPS:
            raise InvalidArgument(f"tta must be one of {sorted(TTA_CROPS)}, got {tta!r}")
        self.size, self.tta, self.seed = size, tta, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def get_config(self) -> dict:
        return {**super().get_config(), "size": self.size, "tta": self.tta, "seed": self.seed}

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, input_shape[3])

    def call(self, images, training=None):
        height, width = images.shape[1], images.shape[2]
        if training:
            n = ops.shape(images)[0]
            top = keras.random.randint((n, 1), 0, height - self.size + 1, seed=self.seed_generator)
            left = keras.random.randint((n, 1), 0, width - self.size + 1, seed=self.seed_generator)
            return _crop_at(images, top, left, self.size)
        centre = ((height - self.size) // 2, (width - self.size) // 2)
        if self.tta == "centre":
            return images[:, centre[0]:centre[0] + self.size, centre[1]:centre[1] + self.size, :]
        far_y, far_x = height - self.size, width - self.size
        crops = [images[:, y:y + self.size, x:x + self.size, :]
                 for y, x in ((0, 0), (0, far_x), (far_y, 0), (far_y, far_x), centre)]
        return ops.concatenate(crops + [ops.flip(c, axis=2) for c in crops], axis=0)


def _crop_at(images, top, left, size: int):
    """Per-image crops at (top, left): one gather over the flattened pixels."""
    n = ops.shape(images)[0]
    height, width, channels = images.shape[1], images.shape[2], images.shape[3]
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    offsets = ops.convert_to_tensor((rows * width + cols).reshape(1, -1).astype("int32"))
    index = ops.cast(top, "int32") * width + ops.cast(left, "int32") + offsets  # (n, size * size)
    flat = ops.reshape(images, (n, height * width, channels))
    picked = ops.take_along_axis(flat, ops.expand_dims(index, -1), axis=1)
    return ops.reshape(picked, (n, size, size, channels))


@keras.saving.register_keras_serializable(package="fer_platform")
class CropAverage(keras.layers.Layer):
    """The mean of the probabilities over `FaceCrops`' crops (identity in training and for one crop)."""

    def __init__(self, crops: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.crops = crops

    def get_config(self) -> dict:
        return {**super().get_config(), "crops": self.crops}

    def compute_output_shape(self, input_shape):
        return input_shape

    def call(self, probabilities, training=None):
        if training or self.crops == 1:
            return probabilities
        return ops.mean(ops.reshape(probabilities, (self.crops, -1, probabilities.shape[-1])), axis=0)


def add_crop_average(model):
    """`model` (whose graph has a FaceCrops layer) with CropAverage on its output."""
    crops = next(layer for layer in model.layers if isinstance(layer, FaceCrops))
    average = CropAverage(TTA_CROPS[crops.tta], name="crop_average", dtype="float32")
    return keras.Model(model.inputs[0], average(model.outputs[0]), name=model.name)


def crop_tta(model) -> str | None:
    """The model's test-time crop mode (of its first member, for an ensemble), or None if it does not crop."""
    for layer in model.layers:
        if isinstance(layer, FaceCrops):
            return layer.tta
        if isinstance(layer, keras.Model) and (nested := crop_tta(layer)):
            return nested
    return None


def with_tta(model, tta: str):
    """The same weights in a graph whose crops run in mode `tta` (a new model; `model` is unchanged), or `model`
    itself when it already runs so (a model that does not crop serves `centre` as it is)."""
    current = crop_tta(model)
    if current is None and tta != "centre":
        raise InvalidArgument(f"{model.name} does not crop; train with augment.crop to use {tta}")
    if current in (None, tta):
        return model
    config = model.get_config()
    _set_tta(config, tta)
    clone = model.__class__.from_config(config)
    clone.set_weights(model.get_weights())
    return clone


def _set_tta(config: dict, tta: str) -> None:
    """In a functional model's config, and in the configs of the models nested in it (ensemble members)."""
    for layer in config.get("layers", []):
        if layer["class_name"].endswith("FaceCrops"):
            layer["config"]["tta"] = tta
        elif layer["class_name"].endswith("CropAverage"):
            layer["config"]["crops"] = TTA_CROPS[tta]
        elif "layers" in layer.get("config", {}):
            _set_tta(layer["config"], tta)
