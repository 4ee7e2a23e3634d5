"""The committed release model: contract, model card, and bootstrap into an empty registry."""

import json

import numpy as np

from fer_platform.labels import EMOTIONS
from tests.conftest import REPO

RELEASE = REPO / "release"


def test_release_model_honours_the_contract_and_its_card(small_dataset):
    from fer_platform.models import load_model

    card = json.loads((RELEASE / "model_card.json").read_text())
    assert (RELEASE / "model.keras").stat().st_size <= 20_000_000  # small enough for git
    assert card["size_bytes"] == (RELEASE / "model.keras").stat().st_size
    for key in ("data", "code_commit", "params", "epochs_completed", "train_seconds", "hardware"):
        assert card[key], key
    assert set(card["privatetest"]["recall"]) == set(EMOTIONS)
    model = load_model(RELEASE / "model.keras")  # registers FaceAugment, our train-time augmentation layer
    probs = model.predict(small_dataset.images[:16, ..., None], verbose=0)
    assert probs.shape == (16, 7) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert getattr(model, "optimizer", None) is None  # weights only: no optimizer state shipped


def test_bootstrap_registers_the_release_once(tmp_path, monkeypatch):
    from mlflow import MlflowClient

    from fer_platform.release.bootstrap import bootstrap_champion

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.chdir(tmp_path)
    first = bootstrap_champion("fer-classifier", RELEASE)
    assert first["bootstrapped"] and first["version"] == "1"
    again = bootstrap_champion("fer-classifier", RELEASE)
    assert not again["bootstrapped"] and "exists" in again["reason"]
    champion = MlflowClient(tracking_uri=store, registry_uri=store).get_model_version_by_alias("fer-classifier", "champion")
    assert str(champion.version) == "1" and champion.tags["promotion.reason"].startswith("bootstrap")


def test_export_mistakes_are_one_line_not_tracebacks(tmp_path):
    import subprocess
    import sys

    for args, message in ((["--arch", "nope", "--checkpoint-dir", str(tmp_path)], "no train.archs.nope"),
                          (["--arch", "cnn", "--checkpoint-dir", str(tmp_path / "none")], "none/state.json: not found")):
        out = subprocess.run([sys.executable, "-m", "fer_platform.release", "export", *args], cwd=REPO,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 1 and message in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_the_committed_onnx_graph_is_the_committed_model(small_dataset):
    """release/model.onnx (what FER.from_release runs, without TensorFlow) computes what release/model.keras
    computes: its parity report, and the same probabilities on real faces here."""
    from fer_platform.models import load_model
    from fer_platform.models.inference import predict_probabilities
    from fer_platform.serving.runtime import FaceClassifier

    parity = json.loads((RELEASE / "onnx_parity.json").read_text())
    assert parity["ok"] and parity["faces"] == 1024 and parity["identical_labels"] == 1024
    from fer_platform.packaging.onnx_export import provenance

    faces = small_dataset.images[:64]
    model = load_model(RELEASE / "model.keras", compile=False)
    current = provenance(model, RELEASE / "model.onnx", faces)
    # the weights are what packaging recognises the release by; the weights, the ONNX bytes and the Keras graph
    # are what it reuses the report under (a stale record is not reused: packaging would check again, ~35 s)
    for key in ("weights_sha256", "onnx_sha256", "keras_graph_sha256"):
        assert parity[key] == current[key], key
    keras_probs = predict_probabilities(model, faces)
    onnx_probs = FaceClassifier(RELEASE / "model.onnx").predict(faces)
    assert np.abs(keras_probs - onnx_probs).max() <= 1e-4


def test_the_python_api_runs_the_release_without_tensorflow():
    """#24: FER.from_release() was ready after 15 s (TensorFlow's import); on the ONNX graph it imports none."""
    import subprocess
    import sys

    code = ("import sys, numpy as np; from fer_platform.api import FER; fer = FER.from_release(); "
            "label = fer.classify(np.full((1, 48, 48), 128, np.uint8))[0]['label']; "
            "print(label, 'tensorflow' in sys.modules, 'keras' in sys.modules, fer.source)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    label, *flags = out.stdout.split()
    assert label in EMOTIONS and flags == ["False", "False", "release/model.onnx"], out.stdout
    assert out.stderr == "", out.stderr  # no library start-up noise either
