"""Accuracy under seeded, deterministic perturbations of the test faces (in the spirit of ImageNet-C).

Pure numpy and OpenCV, no Keras: a perturbation maps (N, 48, 48) uint8 faces to (N, 48, 48) uint8 faces, and
the same seed gives the same faces, so champion and candidate are scored on identical images.

The report holds the accuracy at each severity of each perturbation, the mean over all perturbations (each
perturbation is the mean of its severities) and the mean over those the recipe does not train with: a
perturbation also used as augmentation measures memorised invariance, not generalisation.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping

import cv2
import numpy as np

# Fixed, not the recipe's seed: champion and candidate (and every run) are scored on the same perturbed faces.
SEED = 2019

Perturb = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]


def _affine(faces: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Each face warped by its own 2x3 matrix; what comes in from outside the face reflects its border."""
    out = np.empty_like(faces)
    for i, (face, m) in enumerate(zip(faces, matrices, strict=True)):
        out[i] = cv2.warpAffine(face, m, face.shape[::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    return out


def _centre_matrix(shape: tuple[int, int], angle_deg: float, scale: float, dx: float, dy: float) -> np.ndarray:
    h, w = shape
    m = cv2.getRotationMatrix2D(((w - 1) / 2, (h - 1) / 2), angle_deg, scale)
    m[:, 2] += (dx, dy)
    return m


def scale(faces: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """Framing: the face `factor` times as large in the crop (>1 a tighter crop, <1 a looser one)."""
    return _affine(faces, np.stack([_centre_matrix(f.shape, 0.0, factor, 0, 0) for f in faces]))


def shift(faces: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Framing: the face moved by `fraction` of the side, in a random direction per face."""
    angles = rng.uniform(0, 2 * np.pi, len(faces))
    side = faces.shape[1]
    return _affine(faces, np.stack([_centre_matrix(f.shape, 0.0, 1.0, fraction * side * np.cos(a),
                                                   fraction * side * np.sin(a)) for f, a in zip(faces, angles)]))


def rotation(faces: np.ndarray, degrees: float, rng: np.random.Generator) -> np.ndarray:
    """In-plane rotation by `degrees`, clockwise or anticlockwise at random per face."""
    signs = rng.choice([-1.0, 1.0], len(faces))
    return _affine(faces, np.stack([_centre_matrix(f.shape, s * degrees, 1.0, 0, 0) for f, s in zip(faces, signs)]))


def brightness(faces: np.ndarray, offset: float, rng: np.random.Generator) -> np.ndarray:
    """Every pixel `offset` grey levels brighter (negative: darker)."""
    return np.clip(faces.astype(np.float32) + offset, 0, 255).astype(np.uint8)


def contrast(faces: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """Each face's deviations from its own mean grey level times `factor` (<1: flatter light)."""
    f = faces.astype(np.float32)
    mean = f.mean(axis=(1, 2), keepdims=True)
    return np.clip(mean + (f - mean) * factor, 0, 255).astype(np.uint8)


def gamma(faces: np.ndarray, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """A camera's tone curve: 255 * (x / 255) ** exponent."""
    table = np.clip(255.0 * (np.arange(256) / 255.0) ** exponent + 0.5, 0, 255).astype(np.uint8)
    return table[faces]


def blur(faces: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian blur (defocus, motion-free)."""
    return np.stack([cv2.GaussianBlur(f, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101) for f in faces])


def noise(faces: np.ndarray, std: float, rng: np.random.Generator) -> np.ndarray:
    """Sensor noise: Gaussian, `std` grey levels."""
    return np.clip(faces + rng.normal(0.0, std, faces.shape), 0, 255).astype(np.uint8)


def jpeg(faces: np.ndarray, quality: float, rng: np.random.Generator) -> np.ndarray:
    """A round trip through JPEG at `quality` (what a webcam stream or a messenger does to a frame)."""
    out = np.empty_like(faces)
    for i, face in enumerate(faces):
        _, data = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        out[i] = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
    return out


def low_resolution(faces: np.ndarray, side: float, rng: np.random.Generator) -> np.ndarray:
    """A face seen at `side` pixels (far from the camera), scaled back up to the model's input."""
    h, w = faces.shape[1:]
    s = int(side)
    return np.stack([cv2.resize(cv2.resize(f, (s, s), interpolation=cv2.INTER_AREA), (w, h),
                                interpolation=cv2.INTER_LINEAR) for f in faces])


def occlusion(faces: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A hand- or phone-sized patch: a square of `fraction` of the side, at a random place, of one random grey,
    over the lower two thirds of the face (where hands and phones are)."""
    out = faces.copy()
    h, w = faces.shape[1:]
    s = max(1, round(fraction * w))
    xs = rng.integers(0, w - s + 1, len(faces))
    ys = rng.integers(h // 3 - s // 2, h - s + 1, len(faces)).clip(0, h - s)
    greys = rng.integers(0, 256, len(faces))
    for face, x, y, g in zip(out, xs, ys, greys, strict=True):
        face[y:y + s, x:x + s] = g
    return out


def flip(faces: np.ndarray, severity: float, rng: np.random.Generator) -> np.ndarray:
    """The mirror image (one severity)."""
    return np.ascontiguousarray(faces[:, :, ::-1])


# name -> (function, severities). Severities span "a little" to "a lot" of what the product meets.
PERTURBATIONS: dict[str, tuple[Perturb, tuple[float, ...]]] = {
    "scale": (scale, (0.8, 0.9, 1.12, 1.25)),
    "shift": (shift, (0.05, 0.1)),
    "rotation": (rotation, (10.0, 20.0)),
    "brightness": (brightness, (-60.0, 60.0)),
    "contrast": (contrast, (0.5, 0.3)),
    "gamma": (gamma, (0.5, 2.0)),
    "blur": (blur, (1.0, 2.0)),
    "noise": (noise, (10.0, 25.0)),
    "jpeg": (jpeg, (20.0, 10.0)),
    "low_resolution": (low_resolution, (24.0, 16.0)),
    "occlusion": (occlusion, (0.3, 0.45)),
    "flip": (flip, (1.0,)),
}

# The augment options (config.AugmentSettings) that train a model on a perturbation. A non-zero option counts
# whatever its range (zoom 0.1 trains scales of about 0.9-1.1, the suite tests 0.8-1.25): the unseen mean leaves
# out everything a recipe has seen any of, so it errs on the strict side.
TRAINED_BY = {"flip": "flip", "translation": "shift", "rotation": "rotation", "zoom": "scale", "erasing": "occlusion",
              "brightness": "brightness", "contrast": "contrast", "gamma": "gamma", "blur": "blur", "noise": "noise",
              "low_resolution": "low_resolution", "jpeg": "jpeg"}


OFF = (None, False, 0, 0.0)  # an augment option at one of these values trains with nothing


def trained_with(augment: Mapping[str, object]) -> list[str]:
    """The perturbations a recipe's augment settings also train with (sorted)."""
    names: set[str] = set()
    for option, value in augment.items():
        if option in TRAINED_BY and value not in OFF:
            names.add(TRAINED_BY[option])
    return sorted(names)


def perturbed(faces: np.ndarray, name: str, severity: float, seed: int) -> np.ndarray:
    """The faces under one perturbation at one severity; the same (name, severity, seed) gives the same faces."""
    function, _ = PERTURBATIONS[name]
    key = zlib.crc32(f"{name}:{severity}".encode())
    return function(np.asarray(faces, np.uint8), severity, np.random.default_rng([seed, key]))


def balanced_subset(labels: np.ndarray, max_faces: int | None, seed: int = SEED) -> np.ndarray:
    """Indices (sorted) of at most `max_faces` faces: up to max_faces / classes of each class present (all of a
    class that has fewer, e.g. FER2013's 55-56 test `disgust` faces), seeded."""
    labels = np.asarray(labels)
    if max_faces is None or max_faces >= len(labels):
        return np.arange(len(labels))
    classes = np.unique(labels)
    per_class = max(1, max_faces // len(classes))
    order = np.random.default_rng(seed).permutation(len(labels))
    return np.sort(np.concatenate([order[labels[order] == c][:per_class] for c in classes]))


def robustness_report(predict: Callable[[np.ndarray], np.ndarray], faces: np.ndarray, labels: np.ndarray,
                      trained: list[str] | tuple[str, ...] = (), max_faces: int | None = None,
                      seed: int = SEED) -> dict:
    """Accuracy of `predict` ((N, 48, 48) uint8 -> (N, 7) probabilities) under every perturbation and severity:
    {"accuracy": {name: {severity: acc}}, "per_perturbation": {name: mean}, "mean", "mean_unseen", "trained_with",
    "n"}. With `max_faces`, on a class-balanced seeded subset of them (25 copies of every face cost time)."""
    chosen = balanced_subset(labels, max_faces, seed)
    faces, labels = np.asarray(faces)[chosen], np.asarray(labels)[chosen]
    variants = [(name, severity) for name, (_, severities) in PERTURBATIONS.items() for severity in severities]
    # One call on every perturbed copy at once: a Keras predict call costs ~0.5 s before its first face.
    predicted = np.argmax(predict(np.concatenate([perturbed(faces, n, s, seed) for n, s in variants])), axis=1)
    correct = (predicted.reshape(len(variants), len(labels)) == labels[None]).mean(axis=1)
    accuracy: dict[str, dict[str, float]] = {}
    for (name, severity), acc in zip(variants, correct, strict=True):
        accuracy.setdefault(name, {})[f"{severity:g}"] = float(acc)
    per = {name: float(np.mean(list(by_severity.values()))) for name, by_severity in accuracy.items()}
    unseen = [v for name, v in per.items() if name not in trained]
    return {"accuracy": accuracy, "per_perturbation": per, "mean": float(np.mean(list(per.values()))),
            "mean_unseen": float(np.mean(unseen)) if unseen else None, "trained_with": sorted(trained),
            "n": len(labels)}
