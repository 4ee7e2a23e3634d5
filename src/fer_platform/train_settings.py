"""One architecture's training recipe (`train.common` overlaid with `train.archs.<name>` in params.yaml):
the schema the train, evaluate and promote stages validate it against (fer_platform.config loads it)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Settings(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")


class AugmentSettings(Settings):
    flip: bool = True
    translation: float = Field(default=0.1, ge=0, lt=1)
    rotation: float = Field(default=0.05, ge=0, lt=1)  # fraction of a full turn
    zoom: float = Field(default=0.1, ge=0, lt=1)
    # Random erasing (Zhong et al. 2017): this share of images gets one rectangle of 2-20% of the face set to
    # noise. Off by default, so existing recipes (and their checkpoints' fingerprints) are unchanged.
    erasing: float = Field(default=0.0, ge=0, le=1)
    # The camera's perturbations (models.photometric, the robustness suite's photometric ones), all off by
    # default: brightness offset and contrast factor deviation (fractions of full scale), gamma's log-exponent,
    # noise std; blur, low_resolution and jpeg are the share of faces blurred / seen at 24 or 16 px / compressed.
    brightness: float = Field(default=0.0, ge=0, le=1)
    contrast: float = Field(default=0.0, ge=0, lt=1)
    gamma: float = Field(default=0.0, ge=0, le=2)
    blur: float = Field(default=0.0, ge=0, le=1)
    noise: float = Field(default=0.0, ge=0, le=0.5)
    low_resolution: float = Field(default=0.0, ge=0, le=1)
    jpeg: float = Field(default=0.0, ge=0, le=1)  # the share of faces JPEG-compressed at quality 20 or 10
    # The share of faces that get the camera's perturbations at all (the rest only the framing ones): 1 = all.
    camera_share: float = Field(default=1.0, gt=0, le=1)
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
    # Warm start: the initial weights from a saved model of the same graph (e.g. a release member's
    # model.keras, or a registered one: models:/fer-classifier@champion), so a CPU fine-tunes for a few epochs
    # (say, with the camera augmentation) instead of training from scratch. Augmentation layers hold no weights,
    # so the recipe may add or change them.
    init_from: str | None = None

    @model_validator(mode="after")
    def _warmup_fits(self) -> TrainSettings:
        if self.warmup_epochs >= self.epochs and self.warmup_epochs > 0:
            raise ValueError(f"warmup_epochs ({self.warmup_epochs}) must be < epochs ({self.epochs})")
        if self.mixup and self.class_weight != "none":
            raise ValueError("mixup mixes the labels, so class_weight must be none with it")
        if self.warmup_epochs and self.schedule != "cosine":
            raise ValueError(f"warmup_epochs works with schedule: cosine only, not {self.schedule}")
        return self
