"""The service's and the monitor's settings (params.yaml `serve` and `monitor`), apart from the training
recipe's: the bento reads them, and they change without retraining anything."""

from __future__ import annotations

from pydantic import Field

from fer_platform.contract import HAAR_MIN_FACE, HAAR_MIN_NEIGHBORS, HAAR_SCALE_FACTOR
from fer_platform.train_settings import Settings


class PredictionLogSettings(Settings):
    """The service's prediction log (serving.prediction_log): one JSON line per classified face, never the image,
    written by a background thread into size-bounded rotating files."""
    enabled: bool = True
    dir: str = "logs/predictions"  # relative to the service's working directory (the project root, the bento's)
    max_bytes: int = Field(default=10_000_000, ge=10_000)  # per file; then it rotates
    backups: int = Field(default=5, ge=1)  # rotated files kept: at most (backups + 1) * max_bytes on disk
    queue_faces: int = Field(default=10_000, ge=1)  # faces waiting for the writer; beyond, new ones are dropped


class FeedbackSettings(Settings):
    """POST /feedback. Face crops are biometric data: kept only when keep_faces is on, in memory, for at most
    retention_s and max_faces; a face someone labels is written to `dir` (the field dataset, `dvc add`-ed)."""
    keep_faces: bool = False
    retention_s: float = Field(default=600.0, gt=0, le=86_400)
    max_faces: int = Field(default=1000, ge=1, le=100_000)
    dir: str = "field/faces"  # data.field reads it; `dvc add field/faces` makes each collection a data version


class ServeSettings(Settings):
    max_faces_per_request: int = Field(default=64, ge=1)
    max_request_bytes: int = Field(default=8_000_000, ge=1024)
    max_image_side: int = Field(default=4096, ge=48)
    max_image_pixels: int = Field(default=4096 * 4096, ge=48 * 48)  # checked on the header, before decoding
    # Requests to /predict and /detect in flight before the service answers 503 + Retry-After at once.
    max_in_flight: int = Field(default=32, ge=1)
    body_timeout_s: float = Field(default=10.0, gt=0)  # a body not in by then is a 408 (slow or stalled client)
    # Requests waiting while an inference call runs are merged into the next call, up to this many faces.
    max_batch_faces: int = Field(default=64, ge=1)
    model_threads: int = Field(default=1, ge=1)  # ONNX Runtime threads of the model worker
    api_cpu_threads: int = Field(default=1, ge=1)  # threads decoding and Haar-detecting in the API worker
    haar_scale_factor: float = Field(default=HAAR_SCALE_FACTOR, gt=1)
    haar_min_neighbors: int = Field(default=HAAR_MIN_NEIGHBORS, ge=0)
    haar_min_face: int = Field(default=HAAR_MIN_FACE, ge=8)
    prediction_log: PredictionLogSettings = PredictionLogSettings()
    feedback: FeedbackSettings = FeedbackSettings()


class MonitorSettings(Settings):
    """The monitor flow: the newest log window against the served model's reference (monitoring.drift)."""
    # The reference: this many PublicTest faces (a seeded random subset, the split's own label mix); 500 cost
    # ~5-9 s of ONNX Runtime at packaging on 2 cores and keep PSI's sampling noise near 0.02.
    reference_faces: int = Field(default=500, ge=50)
    window_faces: int = Field(default=1000, ge=1)  # the newest faces of the log compared (or a --since window)
    min_faces: int = Field(default=200, ge=20)  # fewer faces in the window: no verdict (too noisy)
    bins: int = Field(default=10, ge=2)  # quantile bins of the reference, for PSI
    # A field drifts when both say so: PSI at least psi_threshold (a material shift) and KS p below ks_pvalue
    # (not sampling noise). The label mix drifts on PSI alone.
    psi_threshold: float = Field(default=0.2, gt=0)
    ks_pvalue: float = Field(default=0.01, gt=0, lt=1)
    experiment: str = "fer-monitor"  # the MLflow experiment of monitor runs
