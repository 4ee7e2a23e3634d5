"""CameraAugment: the robustness suite's photometric perturbations as train-time augmentation."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from fer_platform.models import build_model, load_model  # noqa: E402
from fer_platform.models.photometric import CameraAugment  # noqa: E402

SMALL_CNN = {"widths": [8, 16, 32], "dense_units": 16, "dropout": 0.3}


@pytest.fixture(scope="module")
def faces(small_dataset):
    return small_dataset.images[:32, :, :, None].astype("float32") / 255.0


def run(layer, faces, training=True):
    return keras.ops.convert_to_numpy(layer(faces, training=training))


def test_identity_at_inference_and_in_range_in_training(faces):
    layer = CameraAugment(brightness=0.2, contrast=0.5, gamma=0.7, blur=0.5, noise=0.1, low_resolution=0.5, seed=1)
    assert np.array_equal(run(layer, faces, training=False), faces)
    out = run(layer, faces)
    assert out.shape == faces.shape and out.min() >= 0.0 and out.max() <= 1.0
    assert np.abs(out - faces).mean() > 0.02


def test_each_option_does_what_its_name_says(faces):
    def sharpness(x):
        return np.abs(np.diff(x, axis=2)).mean(axis=(1, 2, 3))

    textured = sharpness(faces) > 0  # the subset holds one blank face, which no blur changes
    blurred = run(CameraAugment(blur=1.0, seed=2), faces)
    assert (sharpness(blurred) < 0.8 * sharpness(faces))[textured].all()  # every face blurred
    small = run(CameraAugment(low_resolution=1.0, seed=3), faces)
    assert (sharpness(small) < 0.9 * sharpness(faces))[textured].all()
    half = run(CameraAugment(blur=0.5, seed=4), faces)
    untouched = np.isclose(half, faces, atol=1e-6).all(axis=(1, 2, 3))
    assert 0 < untouched.sum() < len(faces)  # the share: some faces kept, some blurred
    flat = run(CameraAugment(contrast=0.9, seed=5), faces)
    assert not np.allclose(flat.std(axis=(1, 2, 3)), faces.std(axis=(1, 2, 3)), atol=1e-3)
    bright = run(CameraAugment(brightness=0.3, seed=6), faces)
    offsets = (bright - faces).mean(axis=(1, 2, 3))
    assert offsets.max() > 0.05 and offsets.min() < -0.05
    noisy = run(CameraAugment(noise=0.1, seed=7), faces)
    assert np.abs(noisy - faces).mean() > 0.005


def test_jpeg_is_what_libjpeg_does_to_a_face(faces):
    import cv2

    pixels = np.round(faces[..., 0] * 255).astype("uint8")
    for quality in (20, 10):
        ours = run_jpeg(faces, quality)[..., 0] * 255
        libjpeg = np.stack([cv2.imdecode(cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], 0)
                            for f in pixels]).astype("float32")
        # 8-10 grey levels from the face on average, and within half a level of libjpeg's own (integer DCT)
        assert np.abs(libjpeg - pixels).mean() > 5 and np.abs(ours - libjpeg).mean() < 0.5, quality
    every = run(CameraAugment(jpeg=1.0, seed=9), faces)
    textured = faces.std(axis=(1, 2, 3)) > 0  # the subset's blank face is its own JPEG
    assert not np.isclose(every, faces, atol=1e-6).all(axis=(1, 2, 3))[textured].any()


def run_jpeg(faces, quality):
    return keras.ops.convert_to_numpy(CameraAugment._jpeg(keras.ops.convert_to_tensor(faces), quality))


def test_a_share_of_the_faces_gets_the_camera_and_the_rest_pass_through(faces):
    every = run(CameraAugment(brightness=0.3, noise=0.05, seed=8), faces)
    assert not np.isclose(every, faces, atol=1e-6).all(axis=(1, 2, 3)).any()  # share 1: every face changed
    half = run(CameraAugment(brightness=0.3, noise=0.05, seed=8, share=0.5), faces)
    untouched = np.isclose(half, faces, atol=1e-6).all(axis=(1, 2, 3))
    assert 4 <= untouched.sum() <= len(faces) - 4, untouched.sum()  # 32 faces at 1/2: 4..28 is 1 in 10^5 off


def test_a_recipe_with_camera_options_saves_and_loads_with_them(tmp_path, faces):
    augment = {"flip": True, "brightness": 0.2, "blur": 0.3, "low_resolution": 0.25, "camera_share": 0.5,
               "jpeg": 0.2}
    model = build_model("cnn", augment=augment, **SMALL_CNN)
    model.save(tmp_path / "m.keras")
    reloaded = load_model(tmp_path / "m.keras")
    layer = reloaded.get_layer("camera_augment")
    assert isinstance(layer, CameraAugment)
    assert (layer.brightness, layer.blur, layer.low_resolution, layer.share, layer.jpeg) == (0.2, 0.3, 0.25, 0.5, 0.2)
    x = (faces[:4] * 255).astype("uint8")
    assert np.allclose(model.predict(x, verbose=0), reloaded.predict(x, verbose=0), atol=1e-6)
    plain = build_model("cnn", augment={"flip": True}, **SMALL_CNN)
    assert all(not isinstance(layer, CameraAugment) for layer in plain.layers)


def test_options_off_leave_checkpoint_fingerprints_as_they_were():
    from fer_platform.config import load_params
    from fer_platform.training.checkpoints import settings_identity
    from tests.conftest import REPO

    settings = load_params(REPO / "params.yaml").train_settings("resnet_compact")
    for option in ("brightness", "low_resolution", "camera_share", "jpeg"):
        assert option not in settings_identity(settings)
    on = settings.model_copy(update={"augment": settings.augment.model_copy(update={"blur": 0.3})})
    assert settings_identity(on) != settings_identity(settings)
