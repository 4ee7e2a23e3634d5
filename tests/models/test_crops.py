"""Random-crop training and crop test-time augmentation in the graph (models.crops), on real faces."""

import numpy as np
import pytest

from fer_platform.models import build_model, load_model
from fer_platform.training.recipe import as_model_input

CNN = {"dropout": 0.3, "dense_units": 64}


@pytest.fixture(scope="module")
def faces(small_dataset):
    return as_model_input(small_dataset.images[:6]), small_dataset.labels[:6]


def test_crops_cut_where_they_say():
    from fer_platform.models.crops import FaceCrops

    images = np.arange(2 * 48 * 48, dtype="float32").reshape(2, 48, 48, 1)
    ten = np.asarray(FaceCrops(44, tta="ten_crop")(images, training=False))
    assert ten.shape == (20, 44, 44, 1)
    corners = [images[:, :44, :44], images[:, :44, 4:], images[:, 4:, :44], images[:, 4:, 4:], images[:, 2:46, 2:46]]
    for k, expected in enumerate(corners):  # crop-major: crop k of image i at k * N + i
        np.testing.assert_array_equal(ten[2 * k:2 * k + 2], expected)
        np.testing.assert_array_equal(ten[10 + 2 * k:12 + 2 * k], expected[:, :, ::-1])
    centre = np.asarray(FaceCrops(44)(images, training=False))
    np.testing.assert_array_equal(centre, images[:, 2:46, 2:46])
    random = np.asarray(FaceCrops(40, seed=3)(images, training=True))
    for i in range(2):  # each a real 40x40 window of its own image
        top, left = divmod(int(random[i, 0, 0, 0] - images[i, 0, 0, 0]), 48)
        np.testing.assert_array_equal(random[i], images[i, top:top + 40, left:left + 40])


@pytest.mark.slow
def test_ten_crop_is_the_mean_over_the_crops_and_survives_save_and_load(faces, tmp_path):
    import keras

    from fer_platform.models.crops import crop_tta, with_tta

    x, y = faces
    model = build_model("cnn", augment={"flip": True, "crop": 44}, **CNN)
    assert tuple(model.input.shape) == (None, 48, 48, 1) and crop_tta(model) == "centre"
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert np.isfinite(model.train_on_batch(x, y))  # training crops at random, the batch keeps its size
    ten = with_tta(model, "ten_crop")
    assert crop_tta(ten) == "ten_crop" and crop_tta(model) == "centre"
    per_crop = keras.Model(ten.inputs, ten.get_layer("crop_average").input).predict(x, verbose=0)
    probs = ten.predict(x, verbose=0)
    np.testing.assert_allclose(probs, per_crop.reshape(10, len(x), 7).mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(with_tta(ten, "centre").predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    ten.save(tmp_path / "ten.keras")
    np.testing.assert_allclose(load_model(tmp_path / "ten.keras").predict(x, verbose=0), probs, atol=1e-6)


def test_a_model_without_crops_has_no_crop_tta():
    from fer_platform.models.crops import crop_tta, with_tta

    model = build_model("cnn", augment={"flip": True}, **CNN)
    assert crop_tta(model) is None
    with pytest.raises(ValueError, match="does not crop"):
        with_tta(model, "ten_crop")
