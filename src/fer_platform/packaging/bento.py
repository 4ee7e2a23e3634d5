"""Package stage logic: MLflow registry `champion` -> ONNX export (parity-checked) -> BentoML model store ->
a bento from bentofile.yaml."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import bentoml
import numpy as np
import onnxruntime
import yaml

from fer_platform.models import load_model
from fer_platform.packaging.onnx_export import check_parity, export_onnx, recorded_parity, weights_digest
from fer_platform.packaging.reference import REFERENCE_FILE, build_reference, write_reference
from fer_platform.serving.runtime import SERVED_MODEL_FILE
from fer_platform.tracking.model_versions import CHAMPION, downloaded_version, log_to_run, run_metrics

PARITY_FILE = "parity.json"  # beside the served graph in the model-store entry


def import_from_registry(registered_model: str, parity_faces: np.ndarray, alias: str = CHAMPION,
                         exported: tuple[Path, dict] | None = None, reference_faces: np.ndarray | None = None) -> dict:
    """Export the aliased version to ONNX, check it against Keras on `parity_faces`, log the export to the
    version's run and put it in the BentoML model store (as `registered_model`) with its lineage. Nothing is stored if parity fails.
    With `reference_faces` (PublicTest), the served graph's answers on them are stored too, as the reference the
    monitor flow compares the prediction log with (packaging.reference).

    `exported`: (an ONNX file, its parity record: at least the weights_sha256 it was exported from), e.g. the
    committed release's: when the version has those weights, that file is served instead of exporting again
    (tf2onnx: ~40 s); it is parity-checked unless the record holds a passed check of the same provenance."""
    with downloaded_version(registered_model, alias) as (version, local), tempfile.TemporaryDirectory() as tmp:
        keras_files = sorted(local.rglob("*.keras"))
        if not keras_files:
            raise FileNotFoundError(f"models:/{registered_model}/{version.version} holds no .keras file")
        model = load_model(keras_files[0], compile=False)
        onnx_path = Path(tmp) / SERVED_MODEL_FILE
        parity = None
        weights = weights_digest(model)
        if exported is not None and Path(exported[0]).is_file() and weights == exported[1].get("weights_sha256"):
            shutil.copyfile(exported[0], onnx_path)
            onnx_source = f"{exported[0]} (exported from the same weights)"
            try:
                parity = (recorded_parity(exported[1], model, onnx_path, parity_faces, weights)
                          or check_parity(model, onnx_path, parity_faces))
            except Exception as err:  # noqa: BLE001 - another graph, or a file ONNX Runtime cannot load: export
                parity = None
                print(f"{exported[0]} cannot serve this model ({str(err)[:200]}); exporting it", flush=True)
        if parity is None:
            export_onnx(model, onnx_path)
            onnx_source = "exported at packaging"
            parity = check_parity(model, onnx_path, parity_faces)  # either way: checked against this Keras model
        (Path(tmp) / PARITY_FILE).write_text(json.dumps(parity, indent=2) + "\n")
        files = [SERVED_MODEL_FILE, PARITY_FILE]
        if reference_faces is not None:
            write_reference(build_reference(onnx_path, reference_faces), Path(tmp) / REFERENCE_FILE)
            files.append(REFERENCE_FILE)
        if version.run_id:
            log_to_run(version.run_id, [onnx_path, Path(tmp) / PARITY_FILE],
                       {"serving_parity_max_abs_diff": parity["max_abs_diff"]}, artifact_path="serving")
        metadata = {
            "registered_model": registered_model, "version": str(version.version), "alias": alias,
            "mlflow_run_id": version.run_id or "", "arch": version.tags.get("arch", ""),
            "promotion_reason": version.tags.get("promotion.reason", ""),
            "publictest_accuracy": _number(version.tags.get("publictest_accuracy")),
            "privatetest_accuracy": _number(version.tags.get("privatetest_accuracy")),
            "metrics": run_metrics(version.run_id, ("publictest", "privatetest"), ("best_epoch", "train_seconds")),
            "runtime": f"onnxruntime {onnxruntime.__version__}", "parity": parity, "onnx_source": onnx_source,
            "reference_faces": None if reference_faces is None else len(reference_faces),
        }
        metadata = {k: v for k, v in metadata.items() if v is not None}  # BentoML metadata has no null
        # Stored under the registered model's name: the service loads the entry params.yaml names.
        with bentoml.models.create(registered_model, labels={"alias": alias, "registry_version": str(version.version)},
                                   metadata=metadata) as bento_model:
            for name in files:
                shutil.copyfile(Path(tmp) / name, bento_model.path_of(name))
    return {"bento_model": str(bento_model.tag), **metadata}


def _number(tag: str | None) -> float | None:
    """A registry tag holding a number (tags are strings) as a number, so /info's metrics are all numeric."""
    try:
        return float(tag) if tag else None
    except ValueError:
        return None


def build_bento(wheel: Path, bentofile: str = "bentofile.yaml") -> str:
    """`bentoml build` of bentofile.yaml with the project's `wheel` (built from this checkout) added, so neither
    the wheel's version nor the model's name is written there: the model is the one the service names, which a
    build includes by itself. A subprocess: the build imports the service, which must not share our state."""
    config = yaml.safe_load(Path(bentofile).read_text())
    config.setdefault("python", {})["wheels"] = [os.path.relpath(wheel)]  # BentoML takes none outside the project
    with tempfile.TemporaryDirectory() as tmp:
        filled = Path(tmp) / "bentofile.yaml"
        filled.write_text(yaml.safe_dump(config, sort_keys=False))
        out = subprocess.run(["bentoml", "build", "-f", str(filled), "--output", "tag"],
                             capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"bentoml build failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    tag = out.stdout.strip().splitlines()[-1].removeprefix("__tag__:")
    return tag
