"""Train-time face augmentation as one layer: random horizontal flip, translation, rotation and zoom, and
random erasing.

Why not Keras' RandomFlip/RandomTranslation/RandomRotation/RandomZoom: under JAX on a GPU those four layers
made a training run stall (H100, 2026-11-28: no epoch of any model finished in 450 s, GPU ~2% busy; see
keras-team/keras#23229 for the same on TPU). Here the four transforms are composed into one affine map per
image and applied with a single bilinear gather (reflect padding), in plain `keras.ops`, so every backend
compiles it to a few small kernels. Identity at inference.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops


@keras.saving.register_keras_serializable(package="fer_platform")
class FaceAugment(keras.layers.Layer):
    """flip: mirror half the images; translation: up to this fraction of the side in x and y;
    rotation: up to this fraction of a full turn either way; zoom: scale by 1 +- this; erasing: this share of
    images gets one rectangle (2-20% of the area, aspect 0.3-3.3) replaced by uniform noise."""

    def __init__(self, flip: bool = True, translation: float = 0.0, rotation: float = 0.0, zoom: float = 0.0,
                 seed: int | None = None, erasing: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.flip, self.translation, self.rotation, self.zoom, self.seed = flip, translation, rotation, zoom, seed
        self.erasing = erasing
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def get_config(self) -> dict:
        return {**super().get_config(), "flip": self.flip, "translation": self.translation,
                "rotation": self.rotation, "zoom": self.zoom, "seed": self.seed, "erasing": self.erasing}

    def compute_output_shape(self, input_shape):
        return input_shape

    def call(self, images, training=None):
        if not training:
            return images
        n = ops.shape(images)[0]
        height, width, channels = images.shape[1], images.shape[2], images.shape[3]

        def uniform(low, high):
            return keras.random.uniform((n, 1), low, high, seed=self.seed_generator)

        angle = uniform(-self.rotation, self.rotation) * (2 * math.pi)
        scale = 1.0 / (1.0 + uniform(-self.zoom, self.zoom))  # sampling step: >1 zooms out
        mirror = ops.where(uniform(0.0, 1.0) < 0.5, -1.0, 1.0) if self.flip else ops.ones((n, 1))
        shift_x = uniform(-self.translation, self.translation) * width
        shift_y = uniform(-self.translation, self.translation) * height
        # Output pixel (x, y), relative to the centre, samples the input at R(angle) * scale * (mirror*x, y) + shift.
        ys, xs = np.meshgrid(np.arange(height, dtype="float32") - (height - 1) / 2,
                             np.arange(width, dtype="float32") - (width - 1) / 2, indexing="ij")
        xs, ys = ops.convert_to_tensor(xs.reshape(1, -1)), ops.convert_to_tensor(ys.reshape(1, -1))
        cos, sin = ops.cos(angle) * scale, ops.sin(angle) * scale
        mx = mirror * xs
        src_x = cos * mx - sin * ys + shift_x + (width - 1) / 2
        src_y = sin * mx + cos * ys + shift_y + (height - 1) / 2
        out = ops.reshape(_bilinear(images, src_x, src_y), (n, height, width, channels))
        return self._erase(out, uniform) if self.erasing else out

    def _erase(self, images, uniform):
        """One random rectangle per chosen image, filled with uniform noise in [0, 1]."""
        n, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]
        area = uniform(0.02, 0.2) * (height * width)
        aspect = ops.exp(uniform(math.log(0.3), math.log(1 / 0.3)))
        h = ops.minimum(ops.sqrt(area * aspect), float(height))
        w = ops.minimum(ops.sqrt(area / aspect), float(width))
        top = uniform(0.0, 1.0) * (height - h)
        left = uniform(0.0, 1.0) * (width - w)
        chosen = ops.cast(uniform(0.0, 1.0) < self.erasing, "float32")
        rows = ops.reshape(ops.arange(height, dtype="float32"), (1, height, 1))
        cols = ops.reshape(ops.arange(width, dtype="float32"), (1, 1, width))
        inside = ((rows >= top[:, :, None]) & (rows < (top + h)[:, :, None])
                  & (cols >= left[:, :, None]) & (cols < (left + w)[:, :, None]))
        mask = ops.expand_dims(ops.cast(inside, "float32") * chosen[:, :, None], -1)
        noise = keras.random.uniform(ops.shape(images), 0.0, 1.0, seed=self.seed_generator)
        return images * (1 - mask) + noise * mask


def _reflect(index, size: int):
    """Reflect integer indices into [0, size) (…2 1 0 1 2… at the edges, like fill_mode='reflect' without
    repeating the edge pixel)."""
    period = 2 * (size - 1)
    index = ops.mod(index, period)
    return ops.where(index >= size, period - index, index)


def _bilinear(images, src_x, src_y):
    n = ops.shape(images)[0]
    height, width, channels = images.shape[1], images.shape[2], images.shape[3]
    flat = ops.reshape(images, (n, height * width, channels))
    x0, y0 = ops.floor(src_x), ops.floor(src_y)
    wx, wy = src_x - x0, src_y - y0
    x0, y0 = ops.cast(x0, "int32"), ops.cast(y0, "int32")
    out = 0.0
    for dy, wgt_y in ((0, 1.0 - wy), (1, wy)):
        for dx, wgt_x in ((0, 1.0 - wx), (1, wx)):
            index = _reflect(y0 + dy, height) * width + _reflect(x0 + dx, width)
            pixels = ops.take_along_axis(flat, ops.expand_dims(index, -1), axis=1)
            out = out + pixels * ops.expand_dims(wgt_y * wgt_x, -1)
    return out
