"""Pipeline accuracy: real test faces in camera-like frames, found again by the service's own Haar detector."""

import numpy as np
import pytest

from fer_platform.data.splits import cap_per_class
from fer_platform.evaluation.in_frame import (
    FACE_SIDES,
    HEIGHT,
    SEED,
    WIDTH,
    InFrameFaces,
    compose_frame,
    detect_in_frames,
    load_searches,
    pipeline_report,
    save_searches,
    search_test_splits,
)


def test_frames_are_camera_sized_and_hold_the_face_where_they_say(small_dataset):
    face = small_dataset.split("PublicTest").images[0]
    frame, (x, y, w, h) = compose_frame(face, np.random.default_rng(3))
    assert frame.shape == (HEIGHT, WIDTH) and frame.dtype == np.uint8
    assert FACE_SIDES[0] <= w == h <= FACE_SIDES[1] and 0 <= x <= WIDTH - w and 0 <= y <= HEIGHT - h
    again, box = compose_frame(face, np.random.default_rng(3))
    assert np.array_equal(frame, again) and box == (x, y, w, h)  # seeded


def test_the_detector_finds_most_real_faces_and_its_crops_are_the_faces(small_dataset):
    test = small_dataset.split("PublicTest")
    found = detect_in_frames(test.images, seed=1)
    assert found.found.shape == (len(test.images),) and len(found.crops) == found.found.sum()
    assert found.found.mean() > 0.5  # Haar misses some faces: that is what the rate measures
    # Each crop is its own face again (resampled, tilted, exposed differently, boxed by Haar): it correlates
    # with its own face far better than with the other found faces.
    def standardised(images):
        flat = images.reshape(len(images), -1).astype(float)
        return (flat - flat.mean(1, keepdims=True)) / (flat.std(1, keepdims=True) + 1e-6)

    correlation = standardised(found.crops) @ standardised(test.images[found.found]).T / (48 * 48)
    own = np.diag(correlation)
    others = correlation[~np.eye(len(own), dtype=bool)]
    assert own.mean() > others.mean() + 0.3 and (correlation.argmax(axis=1) == np.arange(len(own))).mean() > 0.6


def test_pipeline_report_counts_a_missed_face_as_wrong():
    labels = np.array([0, 1, 2, 3])
    found = InFrameFaces(np.array([True, True, False, True]), np.zeros((3, 48, 48), np.uint8), np.full(4, 100))
    probs = np.eye(7)[[0, 5, 3]]  # right, wrong, right
    report = pipeline_report(probs, labels, found)
    assert report == {"n": 4, "detected": 3, "detection_rate": 0.75, "accuracy_on_detected": pytest.approx(2 / 3),
                      "end_to_end_accuracy": 0.5}


def test_searches_round_trip_through_their_file(small_dataset, tmp_path):
    searches = search_test_splits(small_dataset, faces_per_split=14)
    save_searches(tmp_path / "in_frame.npz", searches)
    loaded = load_searches(tmp_path / "in_frame.npz")
    for split, (labels, found) in searches.items():
        assert len(labels) == 14 and np.array_equal(loaded[split][0], labels)
        assert np.array_equal(loaded[split][1].crops, found.crops)
        assert np.array_equal(loaded[split][1].found, found.found)
    # Searched side by side, each split is what a search of its own faces alone finds (seeded per split).
    for offset, split in enumerate(("PublicTest", "PrivateTest")):
        labels, found = searches[split]
        alone = detect_in_frames(cap_per_class(small_dataset.split(split), 2, SEED).images, SEED + offset)
        assert np.array_equal(found.found, alone.found) and np.array_equal(found.crops, alone.crops), split
