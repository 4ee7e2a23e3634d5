"""The serving runtime: an ONNX export is served only if it computes what Keras computes (parity on real
faces), and the service's modules load without TensorFlow, Keras or MLflow."""

import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO

TINY = {"blocks_per_stage": [1, 1, 1], "widths": [4, 8, 8]}


@pytest.fixture(scope="module")
def faces(small_dataset):
    # Parity needs at least 512 real faces: the small subset's 126, repeated with a shift (still real pixels).
    images = small_dataset.images
    return np.concatenate([np.roll(images, k, axis=2) for k in range(5)])[:600]


def test_export_matches_keras_and_a_different_graph_is_refused(faces, tmp_path):
    import keras

    from fer_platform.models import build_model
    from fer_platform.packaging.onnx_export import ParityError, check_parity, export_onnx
    from fer_platform.serving.runtime import FaceClassifier

    keras.utils.set_random_seed(3)
    model = build_model("resnet32", augment={"flip": True}, **TINY)
    path = export_onnx(model, tmp_path / "model.onnx")
    report = check_parity(model, path, faces)
    assert report["ok"] and report["faces"] == 600 and report["max_abs_diff"] <= 1e-4
    served = FaceClassifier(path).predict(faces[:5])
    assert served.shape == (5, 7) and served.dtype == np.float32
    np.testing.assert_allclose(served.sum(axis=1), 1.0, atol=1e-5)

    other = build_model("resnet32", augment={}, **TINY)  # same graph, other weights: not the same model
    with pytest.raises(ParityError, match="differs from Keras"):
        check_parity(other, path, faces)
    with pytest.raises(ParityError, match="at least 512"):
        check_parity(model, path, faces[:100])
    broken = build_model("resnet32", augment={"flip": True}, **TINY)  # NaN weights: never exported for serving
    broken.set_weights([np.full_like(w, np.nan) for w in broken.get_weights()])
    with pytest.raises(ParityError, match="NaN or Inf for 600 of 600 faces"):
        check_parity(broken, path, faces)


def test_the_service_imports_without_tensorflow_keras_or_mlflow():
    code = ("import sys; import fer_platform.serving.service as s;"
            "print([m for m in ('tensorflow', 'keras', 'mlflow', 'tf2onnx', 'prefect', 'dvc') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


def test_bento_requirements_are_the_locked_serving_group_and_nothing_of_training():
    pinned = (REPO / "infra/bento/requirements.txt").read_text()
    names = {line.split("==")[0].lower() for line in pinned.splitlines() if "==" in line}
    assert {"bentoml", "onnxruntime", "opencv-python", "numpy", "pydantic", "pyyaml"} <= names
    assert not names & {"tensorflow", "tensorflow-cpu", "keras", "mlflow", "dvc", "prefect", "great-expectations"}
    uv = REPO / ".venv/bin/uv"
    fresh = subprocess.run([str(uv), "export", "--frozen", "--only-group", "serving", "--no-hashes",
                            "--no-emit-project", "--no-header"], cwd=REPO, capture_output=True, text=True)
    assert fresh.returncode == 0, fresh.stderr
    assert fresh.stdout == pinned, "infra/bento/requirements.txt is stale: run `make serving-requirements`"


def test_the_service_serves_the_model_store_entry_named_by_promote_registered_model(tmp_path):
    """#23.9: packaging stored and the service loaded `fer-classifier` whatever promote.registered_model said."""
    import yaml

    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["promote"]["registered_model"] = "fer-other"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    code = ("import fer_platform.serving.service as s; print([str(m.tag) for m in s.FerService.models])")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "FER_PARAMS": str(tmp_path / "params.yaml")}, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "['fer-other:latest']"
