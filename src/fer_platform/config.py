"""params.yaml -> validated, frozen settings. Validated once at each entry point; nothing else reads YAML.

Every tunable of the platform lives in params.yaml; these models are its schema. Unknown keys are errors
(a typo must not silently fall back to a default), and values are not coerced (`epochs: "3"` is an error).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from fer_platform.config_errors import problems, render
from fer_platform.contract import MODEL_NAME
from fer_platform.errors import UserError
from fer_platform.labels import SPLITS
from fer_platform.overrides import apply_overrides, deep_merge, expand_overrides, has_dotted
from fer_platform.service_settings import (
    FeedbackSettings,
    MonitorSettings,
    PredictionLogSettings,
    ServeSettings,
)
from fer_platform.train_settings import AugmentSettings, DistillSettings, Settings, TrainSettings

__all__ = ["AugmentSettings", "ConfigError", "DistillSettings", "FeedbackSettings", "MonitorSettings", "Params",
           "PredictionLogSettings", "ServeSettings", "Settings", "TrainSettings", "apply_overrides",
           "expand_overrides", "load_params"]


class DataSettings(Settings):
    # An image-folder release (train/<emotion>/..., test/<emotion>/...) or the challenge CSV.
    source: str = "data/fer2013"
    # The field dataset (/feedback's labelled faces), a split of its own when it holds faces; null: none.
    field: str | None = "field/faces"


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


class PromoteSettings(Settings):
    # The MLflow registered model, and the BentoML model-store entry the package stage writes and the service
    # loads: so it must be a name BentoML takes.
    registered_model: str = MODEL_NAME
    # A candidate takes `champion` only if its PublicTest accuracy beats the champion's by this much.
    min_improvement: float = Field(default=0.002, ge=0)
    # ... and only if its robustness mean (evaluation.robustness, PublicTest) is at most this far below the
    # champion's on the same perturbed faces: a more accurate but more fragile model is refused.
    max_robustness_drop: float = Field(default=0.02, ge=0)
    # ... and, once the field split holds this many faces, only if not less accurate on them than the champion.
    min_field_faces: int = Field(default=50, ge=1)

    @field_validator("registered_model")
    @classmethod
    def _a_model_store_name(cls, name: str) -> str:
        if not re.fullmatch(r"[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?", name):
            raise ValueError("must be lowercase letters, digits, '-', '_' or '.', at most 63, starting and ending "
                             "with a letter or digit (it also names the BentoML model-store entry)")
        return name


class EvaluateSettings(Settings):
    # Test faces per test split placed into camera-like frames for the pipeline accuracy (the in_frame stage);
    # a class-balanced, seeded subset.
    in_frame_faces: int = Field(default=700, ge=7)
    # Test faces per split under each of the robustness suite's 25 perturbations (a class-balanced, seeded
    # subset, the same for every model: fer_platform.perturbations.balanced_subset).
    robustness_faces: int = Field(default=1050, ge=7)


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
    evaluate: EvaluateSettings = EvaluateSettings()
    promote: PromoteSettings = PromoteSettings()
    serve: ServeSettings = ServeSettings()
    monitor: MonitorSettings = MonitorSettings()
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

    def validate_field_folder(self) -> None:
        """/feedback writes the field faces where ingest reads them: two keys, one folder."""
        field, written = self.data.field, self.serve.feedback.dir
        if field is not None and os.path.normpath(written) != os.path.normpath(field):  # ./field/faces/ is field/faces
            message = (f"must be data.field's folder ({self.data.field!r}): /feedback writes the faces that "
                       "ingest reads from there")
            raise ConfigError(f"serve.feedback.dir: {message}", [(("serve", "feedback", "dir"), message)])

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
        params.validate_field_folder()
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
