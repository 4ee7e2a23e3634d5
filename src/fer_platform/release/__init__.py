"""Releases: the committed model a fresh clone serves, and the per-architecture results committed beside it.

  export    (release.export) a training checkpoint -> weights-only model.keras, evaluated on the full
            PublicTest/PrivateTest, with model_card.json, MODEL_CARD.md (release.card) and its confusion matrix
  ensemble  (release.export) several such directories -> one graph averaging their probabilities, with a
            card naming every member and its own scores (what is served is what was evaluated)
  bootstrap (release.bootstrap) release/ -> the first `champion` of an empty MLflow registry; later
            training competes with it through the normal promotion gate

  onnx      (release.export) release/model.keras -> model.onnx, parity-checked: what the Python API runs in
            process without TensorFlow (every export and ensemble writes it too)

  python -m fer_platform.release export --arch A --checkpoint-dir DIR [--epochs N] [--out DIR]
  python -m fer_platform.release ensemble --member DIR --member DIR [...] --out DIR
  python -m fer_platform.release onnx [--release DIR]
"""

from pathlib import Path

RELEASE_DIR = Path("release")  # relative to the project root, like every path the stages use
MODEL_FILE, CARD_FILE, CARD_MARKDOWN = "model.keras", "model_card.json", "MODEL_CARD.md"
# The same model as ONNX, parity-checked: what the Python API runs in process, without TensorFlow.
ONNX_FILE, ONNX_PARITY_FILE = "model.onnx", "onnx_parity.json"
