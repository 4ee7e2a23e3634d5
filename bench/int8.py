"""The served graph in float and in int8 (packaging.quantize: static QDQ, per-channel, calibrated on Training faces),
in one run: ms for one face and for a batch of 8 in ONNX Runtime on one thread, sizes, and the parity report
that decides whether int8 may be served (labels agree on >= 98% of 1,024 PrivateTest faces, PublicTest accuracy
within 0.3 points). Chosen on PublicTest; PrivateTest faces only check agreement, as the package stage does.

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
from fer_platform.packaging.quantize import calibration_faces, int8_parity, quantize
from fer_platform.serving.runtime import FaceClassifier


def latency_ms(model: FaceClassifier, faces: np.ndarray, repeats: int) -> float:
    model.predict(faces)
    started = time.perf_counter()
    for _ in range(repeats):
        model.predict(faces)
    return round(1000 * (time.perf_counter() - started) / repeats, 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--onnx", type=Path, default=REPO / "release" / "model.onnx")
    parser.add_argument("--dataset", type=Path, default=REPO / DATASET)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    dataset = load_dataset(args.dataset)
    selection = dataset.split(SELECTION)
    with tempfile.TemporaryDirectory() as tmp:
        int8_path = quantize(args.onnx, Path(tmp) / "model.int8.onnx", calibration_faces(dataset.split(TRAIN).images))
        parity = int8_parity(args.onnx, int8_path, parity_faces(dataset), selection.images, selection.labels)
        timing = {}
        for name, path in (("float", args.onnx), ("int8", int8_path)):  # alternated below: the machine is noisy
            timing[name] = FaceClassifier(path, threads=1)
        one, eight = selection.images[:1], selection.images[:8]
        result = {name: {"ms_one_face": latency_ms(m, one, args.repeats),
                         "ms_batch_8": latency_ms(m, eight, max(1, args.repeats // 8))} for name, m in timing.items()}
    speedup = round(result["float"]["ms_one_face"] / result["int8"]["ms_one_face"], 2)
    write_result("int8", {"graph": str(args.onnx.relative_to(REPO)) if args.onnx.is_relative_to(REPO) else str(args.onnx),
                          "calibration": "480 Training faces (seed 2019), 99.999th percentile, QDQ per-channel",
                          "threads": 1, **result, "speedup_one_face": speedup, "parity": parity,
                          "served": "int8" if parity["ok"] else "float (int8 fails the parity gate)"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
