"""The face dict /detect answers, built in one place for the service, `fer-edge --image` and the Python API."""

import numpy as np

from fer_platform.faces import detected_face
from fer_platform.labels import EMOTIONS


def test_a_detected_face_is_its_box_and_its_answer_or_none_when_unclassified():
    probabilities = np.array([0.05, 0.0, 0.05, 0.7, 0.1, 0.05, 0.05], np.float32)
    face = detected_face((12, 30, 48, 50), probabilities)
    assert face["box"] == {"x": 12, "y": 30, "w": 48, "h": 50}
    assert face["label"] == "happy" and abs(face["confidence"] - 0.7) < 1e-6
    assert list(face["probabilities"]) == list(EMOTIONS)
    assert detected_face((1, 2, 3, 4)) == {"box": {"x": 1, "y": 2, "w": 3, "h": 4}, "label": None,
                                           "confidence": None, "probabilities": None}
