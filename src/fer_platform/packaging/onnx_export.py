"""Package-time export of the champion to the serving runtime, and the parity check that gates it.

Keras stays the training and registry format; what is served is an ONNX graph of the same model. It is
served only if, on real PrivateTest faces, every probability is within `MAX_ABS_DIFF` of Keras' and every
predicted label is identical. Imports Keras and tf2onnx: never imported by the service.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path

import numpy as np

from fer_platform.contract import MODEL_INPUT_SHAPE
from fer_platform.data.dataset import FerDataset
from fer_platform.errors import UserError
from fer_platform.labels import REPORT
from fer_platform.models.inference import predict_probabilities
from fer_platform.serving.runtime import FaceClassifier

MAX_ABS_DIFF = 1e-4
MIN_PARITY_FACES = 512
PARITY_FACES = 1024  # the first of PrivateTest, in file order: real faces, the same ones every time


class ParityError(UserError, ValueError):
    """The exported graph does not compute what the Keras model computes: nothing is packaged."""


def parity_faces(dataset: FerDataset, n: int = PARITY_FACES) -> np.ndarray:
    return dataset.split(REPORT).images[:n]


def weights_digest(model) -> str:
    """sha256 over a model's weights in order: the same for the same model however it was saved (a .keras file's
    bytes differ with each save), so an export of these weights can be recognised and reused."""
    digest = hashlib.sha256()
    for weights in model.get_weights():
        digest.update(f"{weights.dtype}{weights.shape}".encode())
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()


def provenance(model, onnx_path: Path, faces: np.ndarray, weights_sha256: str | None = None) -> dict:
    """What a parity report is a function of: the Keras graph and its weights, the ONNX graph's bytes, the faces
    and the runtimes that compute both sides. A report recorded with the same provenance (the committed
    release's) is reused, not recomputed (Keras and ONNX Runtime on 1,024 faces: ~35 s here). `weights_sha256`:
    the weights' digest when the caller has it already (not hashed twice)."""
    faces_digest = hashlib.sha256(f"{faces.dtype}{faces.shape}".encode())
    faces_digest.update(np.ascontiguousarray(faces).tobytes())
    graph = json.dumps(model.get_config(), sort_keys=True, default=str)  # the same weights in another graph (TTA)
    return {"weights_sha256": weights_sha256 or weights_digest(model),
            "keras_graph_sha256": hashlib.sha256(graph.encode()).hexdigest(),
            "onnx_sha256": hashlib.sha256(Path(onnx_path).read_bytes()).hexdigest(),
            "faces_sha256": faces_digest.hexdigest(), "runtimes": _runtime_versions()}


def _runtime_versions() -> dict:
    versions = {}
    for dist in ("keras", "tensorflow-cpu", "tensorflow", "onnxruntime"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return versions


def passes_gate(faces: int, max_abs_diff: float, identical_labels: int, min_faces: int = MIN_PARITY_FACES) -> bool:
    """The parity gate, for a check made now and for a recorded report alike."""
    return faces >= min_faces and max_abs_diff <= MAX_ABS_DIFF and identical_labels == faces


def recorded_parity(record: dict, model, onnx_path: Path, faces: np.ndarray,
                    weights_sha256: str | None = None) -> dict | None:
    """`record`'s parity report if it passed today's gate (faces, difference, labels) and was measured with this
    provenance; otherwise None, and what differs is printed (the check runs, ~35 s)."""
    passed = record.get("ok") is True and passes_gate(record.get("faces", 0), record.get("max_abs_diff", np.inf),
                                                      record.get("identical_labels", -1))
    current = provenance(model, onnx_path, faces, weights_sha256)
    differ = [key for key, value in current.items() if record.get(key) != value]
    reasons = ([] if passed else ["it does not pass today's gate"]) + ([f"other {', '.join(differ)}"] if differ else [])
    if reasons:
        print(f"parity: the recorded report is not reused ({'; '.join(reasons)}): checking again", flush=True)
        return None
    return {**record, "reused": "recorded with the same graph, weights, ONNX bytes, faces and runtimes"}


def export_onnx(model, path: Path) -> Path:
    """Write `model` as ONNX (Keras' own exporter, through tf2onnx)."""
    model.predict(np.zeros((1, *MODEL_INPUT_SHAPE), np.uint8), verbose=0)  # export needs a called model
    model.export(str(path), format="onnx", verbose=False)
    return path


def check_parity(model, onnx_path: Path, faces: np.ndarray, min_faces: int = MIN_PARITY_FACES) -> dict:
    """Compare Keras and ONNX Runtime on `faces`; the report, or ParityError if they disagree."""
    if len(faces) < min_faces:
        raise ParityError(f"parity needs at least {min_faces} faces, got {len(faces)}")
    expected = predict_probabilities(model, faces)
    if not np.isfinite(expected).all():
        raise ParityError(f"the model's probabilities are NaN or Inf for "
                          f"{int((~np.isfinite(expected)).any(axis=1).sum())} of {len(faces)} faces; not packaging it")
    served = FaceClassifier(onnx_path).predict(faces)
    diff = float(np.abs(expected - served).max())
    same_labels = int((expected.argmax(axis=1) == served.argmax(axis=1)).sum())
    report = {"faces": len(faces), "max_abs_diff": diff, "max_abs_diff_allowed": MAX_ABS_DIFF,
              "identical_labels": same_labels, "ok": passes_gate(len(faces), diff, same_labels, min_faces)}
    if not report["ok"]:
        raise ParityError(f"the ONNX export differs from Keras on {len(faces)} PrivateTest faces: max "
                          f"|p_keras - p_onnx| = {diff:.2e} (allowed {MAX_ABS_DIFF:.0e}), "
                          f"{len(faces) - same_labels} labels differ; not packaging it")
    return report
