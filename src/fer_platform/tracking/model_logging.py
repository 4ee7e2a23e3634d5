"""Keras models in and out of MLflow: logged with the image contract as signature, loaded with our layers."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import keras
import mlflow
import mlflow.keras
import numpy as np
from mlflow.models import ModelSignature
from mlflow.types.schema import Schema, TensorSpec

from fer_platform.contract import MODEL_INPUT_SHAPE
from fer_platform.labels import EMOTIONS, NUM_CLASSES
from fer_platform.models.architectures import register_layers


def model_signature() -> ModelSignature:
    return ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(np.uint8), (-1, *MODEL_INPUT_SHAPE), "face")]),
        outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, NUM_CLASSES), "probabilities")]),
    )


def log_keras_model(model):
    """Log a model to the active MLflow run as `model`, with the input/output signature; returns ModelInfo.

    A signature, not an input example: `input_example` crashes `mlflow.keras.log_model` in MLflow 3.x."""
    return mlflow.keras.log_model(
        model,
        name="model",
        signature=model_signature(),
        # Explicit requirements: inferring them would reload the model in a subprocess (slow).
        pip_requirements=[f"keras=={keras.__version__}", "tensorflow-cpu", "numpy"],
        metadata={"labels": list(EMOTIONS), "input": "uint8 (N, 48, 48, 1) grayscale faces"},
    )


def load_logged_model(model_uri: str):
    """A logged Keras model (`runs:/…`, `models:/name@alias`), our custom layers registered first."""
    register_layers()
    return mlflow.keras.load_model(model_uri)


def concrete_model_uri(model_uri: str) -> str:
    """`models:/NAME@ALIAS` as the version it points at now (`models:/NAME/VERSION`); other URIs as they are."""
    if model_uri.startswith("models:/") and "@" in model_uri:
        name, alias = model_uri[len("models:/"):].split("@", 1)
        return f"models:/{name}/{mlflow.MlflowClient().get_model_version_by_alias(name, alias).version}"
    return model_uri


def download_keras_file(model_uri: str, cache: Path) -> Path:
    """The saved .keras file of a logged or registered model (`models:/NAME@ALIAS`, `models:/NAME/VERSION`,
    `runs:/RUN/model`) from the tracking store, kept under `cache` by store and concrete version: an alias is
    resolved on every call (one that moved gives the new version's file), a version is downloaded once."""
    from fer_platform.tracking import store

    uri = store.tracking_uri()
    mlflow.set_tracking_uri(uri)  # reading only: no store or experiment is created
    concrete = concrete_model_uri(model_uri)
    folder = cache / hashlib.sha256(f"{uri}|{concrete}".encode()).hexdigest()[:16]
    if not folder.is_dir():
        cache.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".download-", dir=cache))
        try:
            mlflow.artifacts.download_artifacts(artifact_uri=concrete, dst_path=str(staging))
            os.replace(staging, folder)  # whole or not at all; a concurrent download of the same one wins
        except OSError:
            if not folder.is_dir():
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    found = sorted(folder.rglob("*.keras"))
    if not found:
        raise FileNotFoundError(f"{model_uri} holds no .keras file (not a model this platform logged)")
    return found[0]
