"""FaceAugment: the one train-time augmentation layer (flip, translation, rotation, zoom in one gather)."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from fer_platform.models import build_model, load_model  # noqa: E402
from fer_platform.models.augment import FaceAugment  # noqa: E402

RESNET32 = {"blocks_per_stage": [5, 5, 5], "widths": [16, 32, 64]}  # the paper's, as in params.yaml


@pytest.fixture(scope="module")
def faces(small_dataset):
    return small_dataset.images[:16, :, :, None].astype("float32") / 255.0


def test_flip_alone_mirrors_or_keeps_each_image_exactly(faces):
    out = keras.ops.convert_to_numpy(FaceAugment(flip=True, seed=3)(faces, training=True))
    kept = [np.allclose(o, f, atol=1e-5) for o, f in zip(out, faces, strict=True)]
    mirrored = [np.allclose(o, f[:, ::-1], atol=1e-5) for o, f in zip(out, faces, strict=True)]
    assert all(k or m for k, m in zip(kept, mirrored, strict=True))
    assert 0 < sum(mirrored) < len(faces)  # both outcomes occur (16 draws)


def test_geometric_jitter_moves_pixels_but_keeps_range_and_brightness(faces):
    layer = FaceAugment(flip=False, translation=0.1, rotation=0.05, zoom=0.1, seed=5)
    out = keras.ops.convert_to_numpy(layer(faces, training=True))
    assert out.shape == faces.shape and out.min() >= 0.0 and out.max() <= 1.0 + 1e-6
    changed = np.abs(out - faces).mean(axis=(1, 2, 3))
    assert (changed > 0.005).sum() >= 14  # nearly every image moved
    # Reflect padding and bilinear weights preserve overall brightness closely.
    assert np.abs(out.mean(axis=(1, 2, 3)) - faces.mean(axis=(1, 2, 3))).max() < 0.08


def test_identity_at_inference(faces):
    layer = FaceAugment(flip=True, translation=0.1, rotation=0.05, zoom=0.1)
    assert np.array_equal(keras.ops.convert_to_numpy(layer(faces, training=False)), faces)


def test_model_with_augment_saves_and_loads_with_same_config(tmp_path):
    model = build_model("resnet32", augment={"flip": True, "translation": 0.1, "rotation": 0.05, "zoom": 0.1},
                        **RESNET32)
    model.save(tmp_path / "m.keras")
    reloaded = load_model(tmp_path / "m.keras")
    layer = reloaded.get_layer("augment")
    assert isinstance(layer, FaceAugment)
    assert (layer.translation, layer.rotation, layer.zoom, layer.flip) == (0.1, 0.05, 0.1, True)


def test_no_augmentation_requested_means_no_layer():
    model = build_model("resnet32", augment={"flip": False}, **RESNET32)
    assert all(not isinstance(layer, FaceAugment) for layer in model.layers)


def test_random_erasing_replaces_one_rectangle_in_the_chosen_share(faces):
    out = keras.ops.convert_to_numpy(FaceAugment(flip=False, erasing=1.0, seed=7)(faces, training=True))
    for o, f in zip(out, faces, strict=True):
        changed = np.argwhere(np.abs(o - f)[..., 0] > 1e-6)
        assert len(changed), "every image is erased at erasing=1"
        (top, left), (bottom, right) = changed.min(axis=0), changed.max(axis=0)
        box = (bottom - top + 1) * (right - left + 1)
        assert 0.01 * 48 * 48 <= box <= 0.25 * 48 * 48  # one rectangle of 2-20% of the face (pixel rounding)
        assert len(changed) >= 0.8 * box  # filled with noise, not scattered pixels
    none = keras.ops.convert_to_numpy(FaceAugment(flip=False, erasing=0.0)(faces, training=True))
    assert np.allclose(none, faces, atol=1e-6)
    half = keras.ops.convert_to_numpy(FaceAugment(flip=False, erasing=0.5, seed=1)(faces, training=True))
    assert 0 < sum(not np.allclose(h, f, atol=1e-6) for h, f in zip(half, faces, strict=True)) < len(faces)
    layer = FaceAugment(erasing=0.25)
    assert FaceAugment.from_config(layer.get_config()).erasing == 0.25
