"""Train-time camera augmentation as one layer: brightness, contrast, gamma, blur, sensor noise, low
resolution and JPEG, the robustness suite's photometric perturbations (fer_platform.perturbations) drawn at random.

Plain `keras.ops` (every backend), on faces already scaled to [0, 1]; identity at inference. JPEG is what a
grayscale baseline JPEG does to a face: level shift, 8x8 block DCT, the IJG luminance table scaled to the quality,
rounding, and back (no chroma, so nothing else), computed in the graph rather than by libjpeg.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

BLUR_SIGMAS = (1.0, 2.0)  # the suite's severities
LOW_RESOLUTION_SIDES = (24, 16)
JPEG_QUALITIES = (20, 10)
# The IJG (libjpeg) luminance quantisation table at quality 50, as JPEG Annex K gives it.
JPEG_LUMINANCE = np.array([
    [16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55], [14, 13, 16, 24, 40, 57, 69, 56],
    [14, 17, 22, 29, 51, 87, 80, 62], [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99]], np.float32)


def jpeg_table(quality: int) -> np.ndarray:
    """libjpeg's jpeg_quality_scaling: the luminance table for `quality` (1-100), entries 1..255."""
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return np.clip(np.floor((JPEG_LUMINANCE * scale + 50) / 100), 1, 255).astype(np.float32)


def _dct_matrix() -> np.ndarray:
    """The orthonormal 8-point DCT-II: coefficients = D @ block @ D.T, and block = D.T @ coefficients @ D."""
    k, n = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
    d = np.cos((2 * n + 1) * k * np.pi / 16) * np.sqrt(2 / 8)
    d[0] /= np.sqrt(2)
    return d.astype(np.float32)


def _gaussian_kernel(sigma: float) -> np.ndarray:
    radius = int(math.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    return np.outer(taps, taps).astype("float32")[:, :, None, None]


@keras.saving.register_keras_serializable(package="fer_platform")
class CameraAugment(keras.layers.Layer):
    """brightness: offset up to +-this (of full scale); contrast: deviations from the face's mean times
    1 +- this; gamma: exponent exp(+-this); noise: Gaussian, std up to this; blur / low_resolution / jpeg: this
    share of the faces blurred (sigma 1 or 2) / seen at 24 or 16 px and scaled back / JPEG-compressed at quality
    20 or 10. share: the share of faces that get any of it; the others pass through as they came (clean faces in
    every batch keep the clean accuracy)."""

    def __init__(self, brightness: float = 0.0, contrast: float = 0.0, gamma: float = 0.0, blur: float = 0.0,
                 noise: float = 0.0, low_resolution: float = 0.0, seed: int | None = None, share: float = 1.0,
                 jpeg: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.brightness, self.contrast, self.gamma = brightness, contrast, gamma
        self.blur, self.noise, self.low_resolution, self.seed = blur, noise, low_resolution, seed
        self.share, self.jpeg = share, jpeg
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def get_config(self) -> dict:
        return {**super().get_config(), "brightness": self.brightness, "contrast": self.contrast,
                "gamma": self.gamma, "blur": self.blur, "noise": self.noise,
                "low_resolution": self.low_resolution, "seed": self.seed, "share": self.share,
                "jpeg": self.jpeg}

    def compute_output_shape(self, input_shape):
        return input_shape

    def call(self, images, training=None):
        if not training:
            return images
        n = ops.shape(images)[0]

        def uniform(low, high, shape=None):
            return keras.random.uniform(shape or (n, 1, 1, 1), low, high, seed=self.seed_generator)

        x = images
        if self.low_resolution:
            x = self._one_of(x, [self._resized(x, side) for side in LOW_RESOLUTION_SIDES], self.low_resolution,
                             uniform)
        if self.blur:
            x = self._one_of(x, [self._blurred(x, sigma) for sigma in BLUR_SIGMAS], self.blur, uniform)
        if self.contrast:
            mean = ops.mean(x, axis=(1, 2, 3), keepdims=True)
            x = mean + (x - mean) * uniform(1 - self.contrast, 1 + self.contrast)
        if self.brightness:
            x = x + uniform(-self.brightness, self.brightness)
        x = ops.clip(x, 0.0, 1.0)
        if self.gamma:
            x = ops.power(x + 1e-6, ops.exp(uniform(-self.gamma, self.gamma)))
        if self.noise:
            x = x + keras.random.normal(ops.shape(x), seed=self.seed_generator) * uniform(0.0, self.noise)
        x = ops.clip(x, 0.0, 1.0)
        if self.jpeg:  # last, as a camera's encoder sees the frame its sensor made
            x = self._one_of(x, [self._jpeg(x, quality) for quality in JPEG_QUALITIES], self.jpeg, uniform)
        if self.share < 1.0:
            chosen = ops.cast(uniform(0.0, 1.0) < self.share, x.dtype)
            x = x * chosen + images * (1 - chosen)
        return x

    @staticmethod
    def _one_of(x, variants: list, share: float, uniform):
        """Each face: itself with probability 1 - share, else one of `variants` (equally likely)."""
        draw = uniform(0.0, 1.0)
        out = x
        for i, variant in enumerate(variants):
            low, high = share * i / len(variants), share * (i + 1) / len(variants)
            chosen = ops.cast((draw >= low) & (draw < high), x.dtype)
            out = out * (1 - chosen) + variant * chosen
        return out

    @staticmethod
    def _blurred(x, sigma: float):
        kernel = ops.convert_to_tensor(_gaussian_kernel(sigma))
        pad = kernel.shape[0] // 2
        padded = ops.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")
        return ops.conv(padded, kernel, padding="valid")

    @staticmethod
    def _jpeg(x, quality: int):
        """The faces through a grayscale JPEG encoder and decoder at `quality` (sides that are not multiples of 8
        padded by mirroring, and cropped back; a 48x48 face needs none)."""
        height, width = x.shape[1], x.shape[2]
        pad_h, pad_w = -height % 8, -width % 8
        if pad_h or pad_w:  # TensorFlow's pad has no "edge" mode (libjpeg repeats the edge)
            x = ops.pad(x, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="symmetric")
        pixels = x * 255.0 - 128.0
        rows, cols = (height + pad_h) // 8, (width + pad_w) // 8
        blocks = ops.transpose(ops.reshape(pixels, (-1, rows, 8, cols, 8)), (0, 1, 3, 2, 4))
        d, table = ops.convert_to_tensor(_dct_matrix()), ops.convert_to_tensor(jpeg_table(quality))
        coefficients = ops.matmul(ops.matmul(d, blocks), ops.transpose(d))
        kept = ops.round(coefficients / table) * table
        restored = ops.matmul(ops.matmul(ops.transpose(d), kept), d)
        restored = ops.reshape(ops.transpose(restored, (0, 1, 3, 2, 4)), (-1, rows * 8, cols * 8, 1))
        return ops.clip(ops.round(restored + 128.0), 0.0, 255.0)[:, :height, :width, :] / 255.0

    @staticmethod
    def _resized(x, side: int):
        height, width = x.shape[1], x.shape[2]
        small = ops.image.resize(x, (side, side), interpolation="bilinear", antialias=True)
        return ops.image.resize(small, (height, width), interpolation="bilinear")
