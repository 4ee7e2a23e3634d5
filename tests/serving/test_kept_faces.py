"""Retention of the face crops /feedback attaches (serving.kept_faces): bounded in time and count, enforced."""

import cv2
import numpy as np
import pytest

from fer_platform.config import load_params
from fer_platform.serving.kept_faces import KeptFaces, write_labelled
from tests.conftest import REPO


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def crops(small_dataset) -> np.ndarray:
    return small_dataset.split("PrivateTest").images[:6]


def test_keeping_faces_is_off_unless_params_turn_it_on():
    feedback = load_params(REPO / "params.yaml").serve.feedback
    assert feedback.keep_faces is False and feedback.retention_s <= 3600 and feedback.max_faces <= 10_000


def test_a_kept_face_is_gone_after_its_retention_time(crops):
    clock = Clock()
    kept = KeptFaces(retention_s=60, max_faces=100, clock=clock)
    kept.keep(["a", "b"], crops[:2])
    clock.now += 30
    kept.keep(["c"], crops[2:3])
    clock.now += 30  # a and b are 60 s old: gone; c stays
    assert len(kept) == 1 and kept.take("a") is None
    assert np.array_equal(kept.take("c"), crops[2]) and kept.take("c") is None  # taken once, then forgotten
    clock.now += 3600
    kept.keep(["d"], crops[3:4])
    assert len(kept) == 1  # nothing old is left behind by a later keep either


def test_at_most_max_faces_are_kept_the_oldest_going_first(crops):
    kept = KeptFaces(retention_s=600, max_faces=3, clock=Clock())
    kept.keep(list("abcdef"), crops)
    assert len(kept) == 3 and kept.take("a") is None and np.array_equal(kept.take("f"), crops[5])


def test_a_kept_crop_is_a_copy_and_a_labelled_one_lands_in_an_image_folder(crops, tmp_path):
    buffer = crops[:1].copy()
    kept = KeptFaces(retention_s=600, max_faces=3, clock=Clock())
    kept.keep(["a"], buffer)
    buffer[:] = 0  # the request's buffer is reused: the kept crop is not
    crop = kept.take("a")
    assert np.array_equal(crop, crops[0])
    path = write_labelled(tmp_path, "0123456789abcdef", "happy", crop)
    assert path == tmp_path / "happy" / "0123456789abcdef.png"
    assert np.array_equal(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), crop)  # lossless
    with pytest.raises(ValueError, match="label must be one of"):
        write_labelled(tmp_path, "x", "bored", crop)
