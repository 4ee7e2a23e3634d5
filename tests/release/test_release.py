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
