"""The served graph in float and in int8 (packaging.quantize: static QDQ, per-channel, calibrated on Training
faces), in one run: ms for one face and for a batch of 8 in ONNX Runtime on one thread, sizes, and the parity
report that decides whether int8 may be served (labels agree on >= 98% of 1,024 PrivateTest faces, PublicTest
accuracy within 0.3 points). Chosen on PublicTest; PrivateTest faces only check agreement, as the package
stage does.

    python bench/int8.py [--onnx release/model.onnx] [--repeats 200]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, write_result

from fer_platform.data.dataset import load_dataset
from fer_platform.labels import SELECTION, TRAIN
from fer_platform.paths import DATASET
from fer_platform.packaging.onnx_export import parity_faces
from fer_platform.packaging.quantize import CALIBRATION_SEED, calibration_faces, int8_parity, quantize
from fer_platform.serving.runtime import FaceClassifier


def latency_ms(models: dict[str, FaceClassifier], faces: np.ndarray, repeats: int, rounds: int = 5) -> dict:
    """ms a call for each model, measured in alternating rounds (the machine is noisy): each one's median."""
    per_round = max(1, repeats // rounds)
    times = {name: [] for name in models}
    for model in models.values():
        model.predict(faces)
    for _ in range(rounds):
        for name, model in models.items():
            started = time.perf_counter()
            for _ in range(per_round):
                model.predict(faces)
            times[name].append((time.perf_counter() - started) / per_round)
    return {name: round(1000 * float(np.median(t)), 2) for name, t in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--onnx", type=Path, default=REPO / "release" / "model.onnx")
    parser.add_argument("--dataset", type=Path, default=REPO / DATASET)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    dataset = load_dataset(args.dataset)
    selection = dataset.split(SELECTION)
    with tempfile.TemporaryDirectory() as tmp:
        calibration = calibration_faces(dataset.split(TRAIN).images)
        int8_path = quantize(args.onnx, Path(tmp) / "model.int8.onnx", calibration)
        parity = int8_parity(args.onnx, int8_path, parity_faces(dataset), selection.images, selection.labels)
        models = {"float": FaceClassifier(args.onnx, threads=1), "int8": FaceClassifier(int8_path, threads=1)}
        one = latency_ms(models, selection.images[:1], args.repeats)
        eight = latency_ms(models, selection.images[:8], max(1, args.repeats // 8))
        result = {name: {"ms_one_face": one[name], "ms_batch_8": eight[name]} for name in models}
    speedup = round(result["float"]["ms_one_face"] / result["int8"]["ms_one_face"], 2)
    graph = str(args.onnx.relative_to(REPO)) if args.onnx.is_relative_to(REPO) else str(args.onnx)
    calibrated = f"{len(calibration)} Training faces (seed {CALIBRATION_SEED})"
    write_result("int8", {"graph": graph,
                          "calibration": f"{calibrated}, 99.999th percentile of each activation's magnitude, "
                                         "QDQ per-channel",
                          "threads": 1, **result, "speedup_one_face": speedup, "parity": parity,
                          "served": "int8" if parity["ok"] else "float (int8 fails the parity gate)"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
