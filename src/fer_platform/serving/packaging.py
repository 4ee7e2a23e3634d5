"""Package stage logic: MLflow registry `champion` -> BentoML model store -> a bento from bentofile.yaml."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from fer_platform.serving import BENTO_MODEL_NAME


def import_from_registry(registered_model: str, alias: str = "champion") -> dict:
    """Copy the aliased model version's .keras file into the BentoML model store, with its lineage."""
    import bentoml
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from fer_platform import tracking

    mlflow = tracking.configure()
    client = MlflowClient()
    try:
        version = client.get_model_version_by_alias(registered_model, alias)
    except MlflowException:
        raise FileNotFoundError(
            f"no {registered_model}@{alias} in the MLflow registry at {tracking.tracking_uri()} "
            "(run the promote stage, or `make bootstrap` to register the release model)"
        ) from None
    with tempfile.TemporaryDirectory() as tmp:
        local = Path(mlflow.artifacts.download_artifacts(f"models:/{registered_model}/{version.version}",
                                                         dst_path=tmp))
        keras_files = sorted(local.rglob("*.keras"))
        if not keras_files:
            raise FileNotFoundError(f"models:/{registered_model}/{version.version} holds no .keras file")
        metrics = {}
        if version.run_id:
            try:
                metrics = {k: round(v, 4) for k, v in client.get_run(version.run_id).data.metrics.items()
                           if k.startswith(("publictest", "privatetest")) or k in ("best_epoch", "train_seconds")}
            except MlflowException:
                metrics = {}
        metadata = {
            "registered_model": registered_model, "version": str(version.version), "alias": alias,
            "mlflow_run_id": version.run_id or "", "arch": version.tags.get("arch", ""),
            "promotion_reason": version.tags.get("promotion.reason", ""),
            "publictest_accuracy": version.tags.get("publictest_accuracy", ""),
            "privatetest_accuracy": version.tags.get("privatetest_accuracy", ""),
            "metrics": metrics,
        }
        with bentoml.models.create(BENTO_MODEL_NAME, labels={"alias": alias, "registry_version": str(version.version)},
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
