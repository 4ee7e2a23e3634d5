"""The image contract shared by data, models, service and edge client: 48x48 single-channel uint8 faces.

Models take raw uint8 pixels (normalisation lives inside the model graph), so this is the whole contract.
"""

from __future__ import annotations

IMAGE_SIZE: int = 48
IMAGE_SHAPE: tuple[int, int] = (IMAGE_SIZE, IMAGE_SIZE)
MODEL_INPUT_SHAPE: tuple[int, int, int] = (IMAGE_SIZE, IMAGE_SIZE, 1)
NUM_PIXELS: int = IMAGE_SIZE * IMAGE_SIZE
PIXEL_DTYPE: str = "uint8"
