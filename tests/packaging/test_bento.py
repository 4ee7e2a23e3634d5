"""The package stage's two paths to the served graph: a champion is exported to ONNX; a champion with the weights
of a graph exported before (the committed release's, after `make run`) reuses it. Both are parity-checked
against the registered Keras model, or carry a passed report of the same provenance, before anything reaches the
BentoML store."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # an ONNX export, a registry, a BentoML store


def test_a_champion_is_exported_or_its_earlier_export_reused_and_checked_or_its_report_reused(tmp_path, small_dataset,
                                                                                              monkeypatch):
    import bentoml
    import keras

    from fer_platform.packaging.onnx_export import export_onnx, provenance, weights_digest
    from fer_platform.packaging.bento import import_from_registry
    from fer_platform.tracking.model_versions import CHAMPION, point_alias, register_version
    from tests.tracking.test_promotion import _log_model, _softmax_regression

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "bentoml_home"))
    keras.utils.set_random_seed(3)
    model = _softmax_regression()
    _, uri = _log_model(model, "tiny")
    point_alias("fer-tiny", CHAMPION, register_version("fer-tiny", uri, {"arch": "tiny"}), champion_seen=None)
    faces = np.resize(small_dataset.images, (512, 48, 48))  # the 126 real faces, repeated to the parity minimum

    exported = import_from_registry("fer-tiny", faces)
    assert exported["onnx_source"] == "exported at packaging" and exported["parity"]["ok"]
    assert exported["bento_model"].startswith("fer-tiny:")  # #23.9: the store entry the service of fer-tiny loads
    stored = bentoml.models.get(exported["bento_model"]).path_of("model.onnx")

    weights = {"weights_sha256": weights_digest(model)}
    reused = import_from_registry("fer-tiny", faces, exported=(stored, weights))
    assert reused["onnx_source"].endswith("(exported from the same weights)") and reused["parity"]["ok"]
    assert "reused" not in reused["parity"]  # a record without provenance: checked again
    other = import_from_registry("fer-tiny", faces, exported=(stored, {"weights_sha256": "0" * 64}))  # no reuse
    assert other["onnx_source"] == "exported at packaging"
    # A file that claims these weights but computes something else fails its parity check: exported after all
    wrong = export_onnx(_softmax_regression(), tmp_path / "wrong.onnx")
    fallback = import_from_registry("fer-tiny", faces, exported=(wrong, weights))
    assert fallback["onnx_source"] == "exported at packaging" and fallback["parity"]["ok"]

    # A passed report of the same provenance is reused, not recomputed (the record's own numbers come back); one
    # measured on other faces, another graph or under other runtimes is checked again.
    recorded = {**reused["parity"], "max_abs_diff": 1.5e-9, **provenance(model, stored, faces)}
    again = import_from_registry("fer-tiny", faces, exported=(stored, recorded))
    assert again["parity"]["max_abs_diff"] == 1.5e-9 and again["parity"]["reused"]
    for changed in ({"faces_sha256": "0" * 64}, {"onnx_sha256": "0" * 64}, {"runtimes": {"onnxruntime": "0.1"}},
                    {"keras_graph_sha256": "0" * 64}, {"ok": False}, {"faces": 100, "identical_labels": 100},
                    {"max_abs_diff": 2e-4}, {"identical_labels": 511}):
        checked = import_from_registry("fer-tiny", faces, exported=(stored, {**recorded, **changed}))
        assert checked["parity"]["max_abs_diff"] not in (1.5e-9, 2e-4) and "reused" not in checked["parity"], changed
    assert "reused" not in import_from_registry("fer-tiny", faces[::-1], exported=(stored, recorded))["parity"]

    # FER.from_registry() loads the model promotion registers: the name params.yaml gives (#23.9; it said
    # fer-classifier whatever params.yaml named)
    import yaml

    from fer_platform.api import FER
    from tests.conftest import REPO

    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["promote"]["registered_model"] = "fer-tiny"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    fer = FER.from_registry()
    assert fer.source == "models:/fer-tiny@champion" and len(fer.classify(faces[:4])) == 4
