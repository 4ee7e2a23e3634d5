"""int8 quantization of the served graph (packaging.quantize): a calibration the chosen calibrator cannot use
is refused before any work; the release graph quantized on real Training faces keeps its float labels."""

from __future__ import annotations

import pytest

from tests.conftest import REPO

RELEASE_ONNX = REPO / "release" / "model.onnx"


def test_a_histogram_calibration_of_unequal_batches_is_refused_with_a_clear_error(tmp_path, small_dataset):
    from fer_platform.packaging.quantize import quantize

    with pytest.raises(ValueError, match="40 calibration faces are not a multiple of the batch"):
        quantize(RELEASE_ONNX, tmp_path / "model.int8.onnx", small_dataset.images[:40], batch=32)
    assert not list(tmp_path.iterdir())


def test_the_release_in_int8_keeps_its_labels_on_real_faces_and_is_judged_by_the_gate(tmp_path, small_dataset):
    from onnxruntime.quantization import CalibrationMethod

    from fer_platform.labels import REPORT, SELECTION, TRAIN
    from fer_platform.packaging.quantize import MAX_ACCURACY_DROP, MIN_LABEL_AGREEMENT, calibration_faces, \
        int8_parity, quantize

    calibration = calibration_faces(small_dataset.split(TRAIN).images)  # all 42: min-max takes any number
    assert len(calibration) == 42
    int8 = quantize(RELEASE_ONNX, tmp_path / "model.int8.onnx", calibration,
                    calibrate_method=CalibrationMethod.MinMax)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.int8.onnx"]  # the prepared graph removed

    selection = small_dataset.split(SELECTION)
    parity = small_dataset.split(REPORT).images
    report = int8_parity(RELEASE_ONNX, int8, parity, selection.images, selection.labels)
    assert (report["parity_faces"], report["selection_faces"]) == (42, 42)
    assert report["size_mb"]["int8"] < report["size_mb"]["float"] / 2  # int8 weights
    assert report["label_agreement"] >= 0.9, report
    accuracy = report["selection_accuracy"]
    assert report["ok"] == (report["label_agreement"] >= MIN_LABEL_AGREEMENT
                            and accuracy["float"] - accuracy["int8"] <= MAX_ACCURACY_DROP), report
