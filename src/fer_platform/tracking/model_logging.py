"""Keras models in and out of MLflow: logged with the image contract as signature, loaded with our layers."""

from __future__ import annotations

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


def download_keras_file(model_uri: str, dst: Path) -> Path:
    """The saved .keras file of a logged or registered model (`models:/NAME@ALIAS`, `models:/NAME/VERSION`,
    `runs:/RUN/model`) from the tracking store into `dst`: the stored artifact, the same bytes every time."""
    from fer_platform.tracking import store

    store.configure()
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(dst)))
    found = sorted(local.rglob("*.keras"))
    if not found:
        raise FileNotFoundError(f"{model_uri} holds no .keras file (not a model this platform logged)")
    return found[0]
