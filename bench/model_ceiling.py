"""Model ceiling, in-process on this CPU: the champion through Keras vs the serving runtime (ONNX Runtime),
one face and batches of 8/32/128; warm-up, then the median (and spread) over repeats. Same real faces.

    python bench/model_ceiling.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_FER, REPO, write_result

from fer_platform.data.readers import read_fer2013
from fer_platform.labels import REPORT
from fer_platform.models import load_model
from fer_platform.packaging.onnx_export import export_onnx
from fer_platform.serving.runtime import FaceClassifier

BATCHES = (1, 8, 32, 128)


def timed(fn, faces: np.ndarray, repeats: int) -> dict:
    fn(faces)  # warm-up
    fn(faces)
    runs = []
    for _ in range(repeats):
        began = time.perf_counter()
        fn(faces)
        runs.append((time.perf_counter() - began) * 1000)
    median = float(np.median(runs))
    return {"median_ms": round(median, 2), "min_ms": round(min(runs), 2), "max_ms": round(max(runs), 2),
            "faces_per_s": round(len(faces) / median * 1000, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--fer", default=str(DEFAULT_FER))
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    faces = read_fer2013(args.fer).split(REPORT).images[: max(BATCHES)]
    model = load_model(REPO / "release/model.keras", compile=False)
    result: dict = {"model": "release (resnet_compact+resnet32 ensemble)", "threads": {}}
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = export_onnx(model, Path(tmp) / "model.onnx")
        runtimes = {
            "keras_predict": lambda x: model.predict(x[..., None], batch_size=len(x), verbose=0),
            "onnxruntime_1_thread": FaceClassifier(onnx_path, threads=1).predict,
            "onnxruntime_2_threads": FaceClassifier(onnx_path, threads=2).predict,
        }
        for name, fn in runtimes.items():
            result[name] = {str(b): timed(fn, faces[:b], args.repeats) for b in BATCHES}
    k1, o1 = result["keras_predict"]["1"]["median_ms"], result["onnxruntime_1_thread"]["1"]["median_ms"]
    result["one_face_speedup"] = round(k1 / o1, 1)
    write_result("model_ceiling", result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
