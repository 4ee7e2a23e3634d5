"""fer_platform.face_stats: the per-face numbers the prediction log, the reference and the drift report share."""

import math

import numpy as np
import pytest

from fer_platform.face_stats import NUMERIC_FIELDS, distribution, face_stats, input_stats, output_stats
from fer_platform.labels import EMOTIONS


def test_input_stats_measure_brightness_contrast_and_sharpness(small_dataset):
    faces = small_dataset.split("PublicTest").images[:8]
    stats = input_stats(faces)
    assert np.allclose(stats["brightness"], faces.reshape(8, -1).mean(axis=1), atol=1e-3)
    assert np.allclose(stats["contrast"], faces.reshape(8, -1).std(axis=1), atol=1e-3)
    flat = np.full((1, 48, 48), 100, np.uint8)
    assert input_stats(flat)["sharpness"][0] == 0 and input_stats(flat)["contrast"][0] == 0
    import cv2

    blurred = np.stack([cv2.GaussianBlur(f, (5, 5), 2) for f in faces])
    assert (input_stats(blurred)["sharpness"] < stats["sharpness"]).all()  # blur is what sharpness sees
    brighter = np.clip(faces.astype(int) + 40, 0, 255).astype(np.uint8)
    assert (input_stats(brighter)["brightness"] > stats["brightness"]).all()


def test_output_stats_entropy_and_margin():
    uniform, certain = np.full(7, 1 / 7), np.eye(7)[3]
    two_way = np.array([0.5, 0.5, 0, 0, 0, 0, 0])
    out = output_stats(np.stack([uniform, certain, two_way]))
    assert out["entropy"][0] == pytest.approx(math.log(7), abs=1e-5) and out["entropy"][1] == pytest.approx(0, abs=1e-6)
    assert out["margin"].tolist() == pytest.approx([0, 1, 0]) and out["label"][1] == 3
    assert out["confidence"].tolist() == pytest.approx([1 / 7, 1, 0.5])


def test_face_stats_and_distribution_name_labels_and_every_field(small_dataset):
    faces = small_dataset.split("PublicTest").images[:3]
    probs = np.eye(7)[[3, 3, 0]] * 0.9 + 0.1 / 7
    records = face_stats(faces, probs)
    assert [r["label"] for r in records] == ["happy", "happy", "angry"]
    assert all(set(r) == {"label", *NUMERIC_FIELDS} and all(isinstance(r[k], float) for k in NUMERIC_FIELDS)
               for r in records)
    dist = distribution(faces, probs)
    assert dist["n"] == 3 and dist["labels"]["happy"] == 2 and list(dist["labels"]) == list(EMOTIONS)
    assert len(dist["fields"]["sharpness"]) == 3
