"""The serving runtime: the champion exported to ONNX, run by ONNX Runtime (no TensorFlow, no Keras).

Chosen by measurement on the 2-core CPU (docs/benchmarks.md): Keras `predict()` took 50 ms for one face,
ONNX Runtime 9.8 ms with the same probabilities (within 6e-7). Each session is pinned to `threads` so the
model worker and the API worker do not oversubscribe the cores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from fer_platform.contract import IMAGE_SHAPE, MODEL_INPUT_SHAPE
from fer_platform.labels import NUM_CLASSES

SERVED_MODEL_FILE = "model.onnx"  # the graph's file in the BentoML model-store entry (written by packaging.bento)


class FaceClassifier:
    """(N, 48, 48) uint8 faces -> (N, 7) float32 probabilities, in labels.EMOTIONS order."""

    def __init__(self, path: str | Path, threads: int = 1):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        (model_input,) = self.session.get_inputs()
        self.input_name = model_input.name
        if model_input.type != "tensor(uint8)" or list(model_input.shape[1:]) != list(MODEL_INPUT_SHAPE):
            raise ValueError(f"{path}: input {model_input.type} {model_input.shape} is not the image contract "
                             f"uint8 (N, {', '.join(map(str, MODEL_INPUT_SHAPE))})")
        (output,) = self.session.get_outputs()
        if output.shape[-1] != NUM_CLASSES:
            raise ValueError(f"{path}: output {output.shape} does not give {NUM_CLASSES} probabilities")

    def predict(self, faces: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(faces, dtype=np.uint8).reshape(-1, *IMAGE_SHAPE, 1)
        return np.asarray(self.session.run(None, {self.input_name: batch})[0], dtype=np.float32)
