"""The robustness suite's perturbations: deterministic, shape-keeping, and each does what its name says."""

import numpy as np
import pytest

from fer_platform.perturbations import PERTURBATIONS, perturbed, robustness_report, trained_with


@pytest.fixture(scope="module")
def faces(small_dataset):
    return small_dataset.split("PublicTest").images


@pytest.mark.parametrize("name", sorted(PERTURBATIONS))
def test_every_perturbation_is_seeded_and_keeps_the_contract(faces, name):
    for severity in PERTURBATIONS[name][1]:
        out = perturbed(faces, name, severity, seed=1)
        assert out.shape == faces.shape and out.dtype == np.uint8
        assert np.array_equal(out, perturbed(faces, name, severity, seed=1))  # the same faces every run
        assert not np.array_equal(out, faces)  # it changes something
    first, last = PERTURBATIONS[name][1][0], PERTURBATIONS[name][1][-1]
    if first != last:
        assert not np.array_equal(perturbed(faces, name, first, 1), perturbed(faces, name, last, 1))


def test_perturbations_do_what_their_names_say(faces):
    f = faces.astype(float)
    assert perturbed(faces, "brightness", 60.0, 1).mean() > f.mean() + 40
    assert perturbed(faces, "contrast", 0.3, 1).std(axis=(1, 2)).mean() < 0.4 * f.std(axis=(1, 2)).mean()
    assert np.array_equal(perturbed(faces, "flip", 1.0, 1), faces[:, :, ::-1])
    sharp = np.abs(np.diff(f, axis=2)).mean()
    assert np.abs(np.diff(perturbed(faces, "blur", 2.0, 1).astype(float), axis=2)).mean() < 0.6 * sharp
    assert np.abs(np.diff(perturbed(faces, "low_resolution", 16.0, 1).astype(float), axis=2)).mean() < 0.8 * sharp
    occluded = perturbed(faces, "occlusion", 0.45, 1)
    side = round(0.45 * 48)
    for face, out in zip(faces, occluded):  # one square of one grey, the rest untouched
        changed = np.argwhere(face != out)
        if len(changed):
            assert np.ptp(changed[:, 0]) < side and np.ptp(changed[:, 1]) < side
    # A zoom in by 1.25 about the centre: the centre pixel stays, a border pixel comes from further in.
    zoomed = perturbed(faces, "scale", 1.25, 1)
    assert np.abs(zoomed[:, 20:28, 20:28].astype(float) - f[:, 20:28, 20:28]).mean() < \
        np.abs(zoomed[:, :4].astype(float) - f[:, :4]).mean()


def test_report_means_and_what_training_sees():
    faces = np.random.default_rng(0).integers(0, 256, (20, 48, 48), dtype=np.uint8)
    labels = np.arange(20) % 7

    def says_angry_if_bright(batch):  # a "model" whose accuracy the perturbations move
        probs = np.zeros((len(batch), 7))
        probs[np.arange(len(batch)), np.where(batch.mean(axis=(1, 2)) > 127, 0, 1)] = 1
        return probs

    report = robustness_report(says_angry_if_bright, faces, labels, trained=["flip"])
    per = report["per_perturbation"]
    assert set(per) == set(PERTURBATIONS)
    assert per["brightness"] == pytest.approx(np.mean(list(report["accuracy"]["brightness"].values())))
    assert report["mean"] == pytest.approx(np.mean(list(per.values())))
    assert report["mean_unseen"] == pytest.approx(np.mean([v for k, v in per.items() if k != "flip"]))
    assert trained_with({"flip": True, "translation": 0.1, "rotation": 0.0, "zoom": 0.1, "erasing": 0.0,
                         "crop": None}) == ["flip", "scale", "shift"]
    assert robustness_report(says_angry_if_bright, faces, labels, trained=list(PERTURBATIONS))["mean_unseen"] is None
    # Every perturbation has an augment option that trains with it (the list, JPEG included).
    from fer_platform.config import AugmentSettings

    every = {name: 0.5 for name, field in AugmentSettings.model_fields.items() if field.annotation is float}
    assert trained_with({**every, "flip": True}) == sorted(PERTURBATIONS)
