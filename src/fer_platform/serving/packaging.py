"""Package stage logic: MLflow registry `champion` -> BentoML model store -> a bento from bentofile.yaml."""

from __future__ import annotations

import shutil
import subprocess

import bentoml

from fer_platform.contract import MODEL_NAME
from fer_platform.tracking.model_versions import CHAMPION, downloaded_version, run_metrics


def import_from_registry(registered_model: str, alias: str = CHAMPION) -> dict:
    """Copy the aliased model version's .keras file into the BentoML model store, with its lineage."""
    with downloaded_version(registered_model, alias) as (version, local):
        keras_files = sorted(local.rglob("*.keras"))
        if not keras_files:
            raise FileNotFoundError(f"models:/{registered_model}/{version.version} holds no .keras file")
        metadata = {
            "registered_model": registered_model, "version": str(version.version), "alias": alias,
            "mlflow_run_id": version.run_id or "", "arch": version.tags.get("arch", ""),
            "promotion_reason": version.tags.get("promotion.reason", ""),
            "publictest_accuracy": version.tags.get("publictest_accuracy", ""),
            "privatetest_accuracy": version.tags.get("privatetest_accuracy", ""),
            "metrics": run_metrics(version.run_id, ("publictest", "privatetest"), ("best_epoch", "train_seconds")),
        }
        with bentoml.models.create(MODEL_NAME, labels={"alias": alias, "registry_version": str(version.version)},
                                   metadata=metadata) as bento_model:
            shutil.copyfile(keras_files[0], bento_model.path_of("model.keras"))
    return {"bento_model": str(bento_model.tag), **metadata}


def build_bento(bentofile: str = "bentofile.yaml") -> str:
    """`bentoml build` (a subprocess: the build imports the service, which must not share our state)."""
    out = subprocess.run(["bentoml", "build", "-f", bentofile, "--output", "tag"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"bentoml build failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    tag = out.stdout.strip().splitlines()[-1].removeprefix("__tag__:")
    return tag
