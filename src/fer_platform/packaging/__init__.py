"""The package job: the champion exported to ONNX (parity-checked), its reference distribution, the bento build.

It needs the training stack (Keras, tf2onnx, MLflow); the service it packages (fer_platform.serving) does not.
"""
