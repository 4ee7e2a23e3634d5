"""Re-evaluate the committed release model on PrivateTest, read straight from the image folders, and check
that it reproduces the model card's number (to 0.1 points). `--release DIR` checks any directory written by
`python -m fer_platform.release export --out DIR` (e.g. a paper architecture's committed result).

    python bench/evaluate_release.py [--fer PATH] [--release DIR --name RESULT]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_FER, REPO, write_result

from fer_platform.data.readers import read_fer2013
from fer_platform.models.inference import predict_probabilities
from fer_platform.evaluation.metrics import classification_report
from fer_platform.labels import REPORT, SELECTION


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fer", default=str(DEFAULT_FER))
    parser.add_argument("--release", default=str(REPO / "release"))
    parser.add_argument("--name", default="release_privatetest", help="result name in bench/results/")
    args = parser.parse_args()
    from fer_platform.models import load_model

    card = json.loads((Path(args.release) / "model_card.json").read_text())
    model = load_model(Path(args.release) / "model.keras")
    dataset = read_fer2013(args.fer)
    result = {"arch": card["arch"]}
    for split in (SELECTION, REPORT):
        test = dataset.split(split)
        report = classification_report(test.labels, predict_probabilities(model, test.images).argmax(axis=1))
        key = split.lower()
        result[key] = {"n": report["n"], "accuracy": round(report["accuracy"], 4),
                       "macro_f1": round(report["macro_f1"], 4), "model_card_accuracy": card[key]["accuracy"]}
    gap = abs(result["privatetest"]["accuracy"] - card["privatetest"]["accuracy"])
    result["reproduces_model_card"] = gap <= 0.001
    write_result(args.name, result)
    return 0 if result["reproduces_model_card"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
