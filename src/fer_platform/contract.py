"""Constants shared across layers: the image contract, the model's name, and how faces are found.

Models take raw uint8 pixels (normalisation lives inside the model graph), so the image contract is just the
shape and dtype of a face. The service's /detect and `fer-edge` crop faces the same way, so they share the
Haar defaults below (params.yaml `serve.haar_*` and `fer-edge --min-face` start from them).
"""

from __future__ import annotations

IMAGE_SIZE: int = 48
IMAGE_SHAPE: tuple[int, int] = (IMAGE_SIZE, IMAGE_SIZE)
MODEL_INPUT_SHAPE: tuple[int, int, int] = (IMAGE_SIZE, IMAGE_SIZE, 1)
NUM_PIXELS: int = IMAGE_SIZE * IMAGE_SIZE
PIXEL_DTYPE: str = "uint8"

# The MLflow registered model and the BentoML model-store entry the service loads, unless params.yaml's
# promote.registered_model names another (params.yaml repeats it; tests/test_contract.py checks that they agree).
MODEL_NAME: str = "fer-classifier"

# The environment variable holding the service's bearer token: the service requires it when set, and fer-edge and
# the Python API send it.
TOKEN_ENV: str = "FER_API_TOKEN"

# Haar cascade defaults (haarcascade_frontalface_default, shipped with opencv-python).
HAAR_SCALE_FACTOR: float = 1.1
HAAR_MIN_NEIGHBORS: int = 5
HAAR_MIN_FACE: int = 30  # pixels: the smallest face side /detect searches for in a photo
HAAR_WINDOW: int = 24  # the cascade's own window: a face smaller than this in the searched image is never found
# fer-edge searches camera frames on a reduced copy, scaled so that EDGE_MIN_FACE becomes the cascade's window:
# every face of at least this size that a full-resolution search finds is still found, at a quarter of the cost.
EDGE_MIN_FACE: int = 48
# A live source (fer-edge's camera, the live page) searches near the last faces and the whole frame every
# LIVE_FULL_SCAN_EVERY frames; each face's label is the mean of its last SMOOTHING_WINDOW answers.
LIVE_FULL_SCAN_EVERY: int = 10
SMOOTHING_WINDOW: int = 10
