# The script that measured summary.json's "models", as it ran (from the checkout root, the venv active):
#   python bench/results/cpu_2026-12-06_resnet_compact_robust/compare.py OUT.json NAME=PATH[+PATH...] ...
# A "+" joins members: their probabilities averaged in numpy, as models.ensemble.average_probabilities does in
# the graph. The dataset path is this machine's (artifacts/dataset/fer2013.npz of the checkout).
"""PublicTest accuracy and robustness mean (the evaluate stage's suite: 1,050 class-balanced faces x 25
perturbation-severity pairs, seeded) of the release, the member the robust fine-tune started from, and the
fine-tuned member. Selection split only (PublicTest)."""
import json, sys, time
from pathlib import Path
import numpy as np
from fer_platform.data.dataset import load_dataset
from fer_platform.labels import SELECTION
from fer_platform.models import load_model
from fer_platform.models.inference import predict_probabilities
from fer_platform.perturbations import robustness_report

models = dict(a.split("=", 1) for a in sys.argv[2:])
ds = load_dataset("/work/main/artifacts/dataset/fer2013.npz").split(SELECTION)
out = {}
for name, path in models.items():
    t = time.time()
    members = [load_model(p) for p in path.split("+")]  # several: the mean of their probabilities

    def predict(faces):
        return np.mean([predict_probabilities(m, faces) for m in members], axis=0)

    probs = predict(ds.images)
    mirrored = predict(np.ascontiguousarray(ds.images[:, :, ::-1]))
    rob = robustness_report(predict, ds.images, ds.labels, (), 1050)
    out[name] = {"path": path, "publictest_accuracy": round(float((probs.argmax(1) == ds.labels).mean()), 4),
                 "publictest_flip_accuracy": round(float(((probs + mirrored).argmax(1) == ds.labels).mean()), 4),
                 "robustness_mean": round(rob["mean"], 4), "robustness_n": rob["n"],
                 "per_perturbation": {k: round(v, 4) for k, v in rob["per_perturbation"].items()},
                 "seconds": round(time.time() - t, 1)}
    print(name, json.dumps(out[name]), flush=True)
Path(sys.argv[1]).write_text(json.dumps(out, indent=1))
