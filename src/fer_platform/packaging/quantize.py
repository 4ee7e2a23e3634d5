"""int8 quantization of the served ONNX graph, and the parity report that would decide whether it may be
served: ONNX Runtime static quantization (QDQ, per-channel int8 weights, uint8 activations), calibrated on
Training faces, so this CPU's VNNI instructions run the convolutions. Measured by bench/int8.py; not part of
packaging yet, as it fails the gate (docs/results.md).

The gate (issue #24): labels agree with the float graph on >= 98% of the parity faces, and PublicTest accuracy
is within 0.3 points of the float graph's. Imports onnxruntime.quantization (and onnx): never imported by the
service.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fer_platform.serving.runtime import FaceClassifier

MIN_LABEL_AGREEMENT = 0.98
MAX_ACCURACY_DROP = 0.003
CALIBRATION_FACES = 480
CALIBRATION_SEED = 2019


def calibration_faces(train_images: np.ndarray, n: int = CALIBRATION_FACES, seed: int = CALIBRATION_SEED):
    """A seeded random sample of Training faces (never a test split: the calibration is part of the model)."""
    rng = np.random.default_rng(seed)
    return train_images[rng.choice(len(train_images), min(n, len(train_images)), replace=False)]


def quantize(float_path: Path, out_path: Path, calibration: np.ndarray, batch: int = 32, **options) -> Path:
    """`float_path` -> int8 `out_path`, activation ranges from `calibration` (N, 48, 48) uint8 faces.

    Ranges from the 99.999th percentile of each activation's magnitude (ONNX Runtime's histogram
    calibrator), not its min and max: chosen on PublicTest, where the release's labels agree with its float
    graph's on 98.8% of faces (min-max 98.2%, entropy 98.2%, percentile without the stems and heads 98.4%; 480
    faces each). The gate's PrivateTest faces are only measured after."""
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    options = {"calibrate_method": CalibrationMethod.Percentile, **options}
    stacks_batches = options["calibrate_method"] != CalibrationMethod.MinMax  # the histogram calibrators
    if stacks_batches and len(calibration) > batch and len(calibration) % batch:
        raise ValueError(f"{len(calibration)} calibration faces are not a multiple of the batch ({batch})")

    input_name = FaceClassifier(float_path).input_name

    class Faces(CalibrationDataReader):
        def __init__(self) -> None:
            self.start = 0

        def get_next(self):
            if self.start >= len(calibration):
                return None
            chunk = calibration[self.start:self.start + batch][..., None]
            self.start += batch
            return {input_name: np.ascontiguousarray(chunk, np.uint8)}

    prepared = out_path.with_name(out_path.stem + ".prepared.onnx")
    quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
    try:
        quantize_static(str(prepared), str(out_path), Faces(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        **options)
    finally:
        prepared.unlink(missing_ok=True)
    return out_path


def _probabilities(model: FaceClassifier, faces: np.ndarray, batch: int = 64) -> np.ndarray:
    return np.concatenate([model.predict(faces[i:i + batch]) for i in range(0, len(faces), batch)])


def int8_parity(float_path: Path, int8_path: Path, parity_faces: np.ndarray, selection_images: np.ndarray,
                selection_labels: np.ndarray) -> dict:
    """How far the int8 graph is from the float one: label agreement on `parity_faces`, accuracy of both on
    the selection split (PublicTest), file sizes, and whether it passes the gate."""
    full, small = FaceClassifier(float_path), FaceClassifier(int8_path)
    labels = [_probabilities(m, parity_faces).argmax(1) for m in (full, small)]
    agree = float((labels[0] == labels[1]).mean())
    accuracy = {name: float((_probabilities(m, selection_images).argmax(1) == selection_labels).mean())
                for name, m in (("float", full), ("int8", small))}
    return {"parity_faces": len(parity_faces), "label_agreement": round(agree, 4),
            "selection_faces": len(selection_labels),
            "selection_accuracy": {k: round(v, 4) for k, v in accuracy.items()},
            "size_mb": {name: round(path.stat().st_size / 1e6, 2)
                        for name, path in (("float", float_path), ("int8", int8_path))},
            "gate": {"min_label_agreement": MIN_LABEL_AGREEMENT, "max_accuracy_drop": MAX_ACCURACY_DROP},
            "ok": agree >= MIN_LABEL_AGREEMENT and accuracy["float"] - accuracy["int8"] <= MAX_ACCURACY_DROP}
