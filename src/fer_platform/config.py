"""params.yaml -> validated, frozen settings. Validated once at each entry point; nothing else reads YAML.

Every tunable of the platform lives in params.yaml; these models are its schema. Unknown keys are errors
(a typo must not silently fall back to a default), and values are not coerced (`epochs: "3"` is an error).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fer_platform.config_errors import problems, render
from fer_platform.contract import HAAR_MIN_FACE, HAAR_MIN_NEIGHBORS, HAAR_SCALE_FACTOR, MODEL_NAME
from fer_platform.errors import UserError
from fer_platform.labels import SPLITS
from fer_platform.overrides import apply_overrides, deep_merge, expand_overrides, has_dotted

__all__ = ["ConfigError", "Params", "TrainSettings", "apply_overrides", "expand_overrides", "load_params"]


class Settings(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


class DataSettings(Settings):
    # An image-folder release (train/<emotion>/..., test/<emotion>/...) or the challenge CSV.
    source: str = "data/fer2013"


class ValidateSettings(Settings):
    expected_split_sizes: dict[str, int] = Field(
        default_factory=lambda: {"Training": 28709, "PublicTest": 3589, "PrivateTest": 3589}
    )
    # An image whose pixel standard deviation is below this is blank/constant (a warning per image).
    blank_std_threshold: float = Field(default=2.0, ge=0)
    # More blank images than this fraction of a split is an error, not a warning.
    max_blank_fraction: float = Field(default=0.01, ge=0, le=1)
    # Duplicates of test images inside Training are always reported; this makes them fatal.
    fail_on_train_test_leak: bool = False
    examples_per_finding: int = Field(default=5, ge=1)

    @model_validator(mode="after")
    def _known_splits(self) -> ValidateSettings:
        unknown = set(self.expected_split_sizes) - set(SPLITS)
        if unknown:
            raise ValueError(f"expected_split_sizes has unknown splits {sorted(unknown)}; known: {SPLITS}")
        return self


class AugmentSettings(Settings):
    flip: bool = True
    translation: float = Field(default=0.1, ge=0, lt=1)
    rotation: float = Field(default=0.05, ge=0, lt=1)  # fraction of a full turn
    zoom: float = Field(default=0.1, ge=0, lt=1)
    # Random erasing (Zhong et al. 2017): this share of images gets one rectangle of 2-20% of the face set to
    # noise. Off by default, so existing recipes (and their checkpoints' fingerprints) are unchanged.
    erasing: float = Field(default=0.0, ge=0, le=1)
    # Random crops of this side in training (the backbone's input), centre or ten crops at test time
    # (models.crops). None: the backbone sees the whole 48x48 face, as the existing recipes do.
    crop: int | None = Field(default=None, ge=16, le=48)


class DistillSettings(Settings):
    """Knowledge distillation: the targets mix the one-hot label with a teacher's probabilities."""

    # A saved Keras model (an ensemble graph works: release/model.keras is one), or the .npz of its
    # probabilities on the training faces (training.distill.write_soft_labels).
    teacher: str
    weight: float = Field(default=0.7, gt=0, le=1)  # share of the teacher in the target
    temperature: float = Field(default=1.0, gt=0)  # >1 softens the teacher's probabilities (p ** (1/T))


class TrainSettings(Settings):
    """One architecture's training recipe: `train.common` overlaid with `train.archs.<name>`."""

    architecture: str
    model: dict[str, Any] = Field(default_factory=dict)  # builder keyword arguments
    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    optimizer: Literal["adam", "adamw", "sgd"] = "adamw"
    learning_rate: float = Field(gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    momentum: float = Field(default=0.9, ge=0, lt=1)
    warmup_epochs: int = Field(default=0, ge=0)
    schedule: Literal["constant", "cosine", "step", "plateau"] = "cosine"
    # step: learning rate x step_factor every step_epochs epochs. plateau: x plateau_factor after
    # plateau_patience epochs without a better PublicTest accuracy (Khaireddin & Chen 2021: x0.75 after 5).
    step_epochs: int = Field(default=30, ge=1)
    step_factor: float = Field(default=0.1, gt=0, lt=1)
    plateau_patience: int = Field(default=5, ge=1)
    plateau_factor: float = Field(default=0.75, gt=0, lt=1)
    nesterov: bool = True  # with optimizer: sgd
    mixup: float = Field(default=0.0, ge=0)  # Beta(mixup, mixup) mixing of faces and labels per batch; 0 = off
    label_smoothing: float = Field(default=0.0, ge=0, lt=1)
    class_weight: Literal["none", "balanced", "sqrt"] = "none"
    augment: AugmentSettings = AugmentSettings()
    seed: int = 1337
    # Drop Training images that are byte-identical to a PublicTest/PrivateTest image (a leak).
    drop_train_test_duplicates: bool = True
    # Subsets for quick runs: at most this many images per class (None = all). Deterministic.
    max_train_per_class: int | None = Field(default=None, ge=1)
    max_eval_per_class: int | None = Field(default=None, ge=1)
    # data_parallel: Keras' distribution API over every visible device (JAX backend; training.distribution).
    distribution: Literal["none", "data_parallel"] = "none"
    # mixed_bfloat16: compute in bfloat16 on GPUs that have it (weights and probabilities stay float32).
    precision: Literal["float32", "mixed_bfloat16"] = "float32"
    # Train on soft targets from a teacher (an ensemble), so one small model keeps more of its accuracy.
    distill: DistillSettings | None = None

    @model_validator(mode="after")
    def _warmup_fits(self) -> TrainSettings:
        if self.warmup_epochs >= self.epochs and self.warmup_epochs > 0:
            raise ValueError(f"warmup_epochs ({self.warmup_epochs}) must be < epochs ({self.epochs})")
        if self.mixup and self.class_weight != "none":
            raise ValueError("mixup mixes the labels, so class_weight must be none with it")
        if self.warmup_epochs and self.schedule != "cosine":
            raise ValueError(f"warmup_epochs works with schedule: cosine only, not {self.schedule}")
        return self


class PromoteSettings(Settings):
    registered_model: str = MODEL_NAME
    # A candidate takes `champion` only if its PublicTest accuracy beats the champion's by this much.
    min_improvement: float = Field(default=0.002, ge=0)


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


class PipelineSettings(Settings):
    # How `python -m flows.train` / `flows.pipeline` run the per-architecture training tasks: `threads` in this
    # process, or `dask`: on the Dask scheduler at `dask_address` (else $DASK_SCHEDULER_ADDRESS), else on a
    # LocalCluster of `train_workers` processes started for the run.
    task_runner: Literal["threads", "dask"] = "threads"
    dask_address: str | None = None
    # Architectures trained at once: threads, or the LocalCluster's worker processes.
    train_workers: int = Field(default=1, ge=1)
    # Retries of a training task after a transient failure (user errors are never retried).
    task_retries: int = Field(default=2, ge=0)
    retry_delay_seconds: float = Field(default=10.0, ge=0)


class Params(Settings):
    pipeline: PipelineSettings = PipelineSettings()
    data: DataSettings = DataSettings()
    validate_: ValidateSettings = Field(default=ValidateSettings(), alias="validate")
    train: dict[str, Any]
    promote: PromoteSettings = PromoteSettings()
    serve: ServeSettings = ServeSettings()
    # Named sets of `dotted.key: value` overrides, applied with `dvc exp run -S` (see fer_platform.cli).
    profiles: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @property
    def validate_settings(self) -> ValidateSettings:
        return self.validate_

    def profile(self, name: str) -> dict[str, Any]:
        """The profile's overrides, expanded by `expand_overrides` (what `dvc exp run -S` gets)."""
        if name not in self.profiles:
            known = ", ".join(self.profiles) or "none"
            raise ConfigError(f"unknown profile {name!r}; params.yaml defines: {known}")
        return expand_overrides(self.train, self.profiles[name])

    def architectures(self) -> list[str]:
        return list(self.train.get("archs", {}))

    def validate_sections(self) -> None:
        """`train` holds `common` and `archs` only: a typo there (`comon:`) would be ignored, not an error."""
        unknown = sorted(set(self.train) - {"common", "archs"})
        items = [(("train", key), "unknown key (train takes common and archs; a typo?)") for key in unknown]
        if not isinstance(self.train.get("archs") or {}, dict):
            items.append((("train", "archs"), "must be a mapping of architecture keys to their settings"))
        if items:
            raise ConfigError("; ".join(f"{'.'.join(k)}: {m}" for k, m in items), items)

    def validate_common(self) -> None:
        """`train.common` is checked on its own: a value every arch overrides is never merged into one, but a
        wrong one is still a mistake in the file (and becomes live for the next arch that omits the key)."""
        common = self.train.get("common") or {}
        if not isinstance(common, dict):
            raise ConfigError(f"train.common must be a mapping, got {type(common).__name__}")
        # Placeholders only for required fields common leaves to the archs; every key it does set is checked.
        placeholders = {"architecture": "common", "epochs": 10**6, "batch_size": 1, "learning_rate": 1.0}
        try:
            TrainSettings.model_validate({**placeholders, **common})
        except ValidationError as err:
            items = problems(err, ("train", "common"))
            raise ConfigError("invalid train.common: " + "; ".join(f"{'.'.join(k)}: {m}" for k, m in items),
                              items) from None

    def train_settings(self, arch: str) -> TrainSettings:
        archs = self.train.get("archs", {})
        if arch not in archs:
            raise ConfigError(f"no train.archs.{arch} in params; configured: {', '.join(archs) or 'none'}")
        merged = deep_merge(self.train.get("common", {}), archs[arch] or {})
        merged.setdefault("architecture", arch)
        try:
            return TrainSettings.model_validate(merged)
        except ValidationError as err:
            own = archs[arch] or {}

            def place(loc: tuple[str, ...]) -> tuple[str, ...]:  # where the bad value is set: the arch or common
                if not loc:  # a rule across keys (e.g. mixup with class_weight): the arch's merged settings
                    return ("train", "archs", arch)
                return ("train", "archs", arch, *loc) if has_dotted(own, ".".join(loc)) or loc[0] not in \
                    self.train.get("common", {}) else ("train", "common", *loc)

            items = problems(err, place=place)
            raise ConfigError(f"invalid train settings for {arch!r}: "
                              + "; ".join(f"{'.'.join(k)}: {m}" for k, m in items), items) from None


class ConfigError(UserError, ValueError):
    """params.yaml is missing, unreadable or does not match the schema. `items` are (key, message) pairs that
    load_params turns into `file:line: key: message` lines."""

    def __init__(self, message: str, items: list | None = None):
        super().__init__(message)
        self.items = items or []


def load_params(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found (run from the project root or pass --params)") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        params = Params.model_validate(raw)
        params.validate_sections()
        params.validate_common()
        for arch in params.architectures():  # fail at entry, not half-way through a pipeline
            params.train_settings(arch)
    except ValidationError as err:
        raise ConfigError(render(path, path.read_text(), problems(err))) from None
    except ConfigError as err:
        if not err.items:
            raise
        raise ConfigError(render(path, path.read_text(), err.items), err.items) from None
    return params
