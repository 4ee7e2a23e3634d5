"""Writing a release directory: from a training checkpoint (`export_release`) or from committed releases
(`ensemble_release`); both evaluate the saved graph on the full test splits and write its card."""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from pathlib import Path

import numpy as np

from fer_platform.config import EvaluateSettings, TrainSettings
from fer_platform.contract import MODEL_NAME
from fer_platform.data.dataset import FerDataset
from fer_platform.errors import InvalidArgument
from fer_platform.evaluation.evaluate import evaluate_model, metrics_summary
from fer_platform.evaluation.in_frame import search_test_splits
from fer_platform.evaluation.plots import confusion_matrix_png, training_curves_png
from fer_platform.io import write_json
from fer_platform.labels import REPORT, TRAIN
from fer_platform.models import load_model
from fer_platform.models.architectures import weights_only
from fer_platform.models.ensemble import average_probabilities
from fer_platform.perturbations import OFF
from fer_platform.release import CARD_FILE, CARD_MARKDOWN, MODEL_FILE, ONNX_FILE, ONNX_PARITY_FILE
from fer_platform.release.card import model_card_markdown

# The card's pipeline accuracy: test faces per split placed into frames, as the evaluate stage's default.
IN_FRAME_FACES = EvaluateSettings().in_frame_faces


def export_release(model_path: Path, arch: str, settings: TrainSettings, state: dict, dataset: FerDataset,
                   out_dir: Path, lineage: dict, notes: str = "", tta: str = "centre", onnx: bool = True,
                   in_frame_faces: int = IN_FRAME_FACES) -> dict:
    """Strip optimizer state, evaluate on the full PublicTest/PrivateTest, write the model card (and, unless
    `onnx` is off, model.onnx). `tta`: ten_crop serves a model trained on crops over ten crops (chosen on
    PublicTest: see its card)."""
    from fer_platform.models.crops import with_tta  # Keras: not for the CLI's --help

    clean = with_tta(weights_only(load_model(model_path), settings), tta)
    curves = lambda staging: training_curves_png(state["history"], f"{arch} training",  # noqa: E731
                                                 staging / "training_curves.png")
    return _write_release(clean, dataset, settings, out_dir, lineage, notes, onnx, in_frame_faces, {
        "arch": arch, "architecture": settings.architecture, "params": settings.model_dump(),
        "epochs_planned": settings.epochs, "epochs_completed": state["epoch"], "best_epoch": state["best_epoch"],
        "selection": "best epoch by PublicTest accuracy; PrivateTest reported once",
        "train_seconds": round(state["train_seconds"], 1), "hardware": _hardware(state),
    }, extra=curves)


def ensemble_release(member_dirs: list[Path], dataset: FerDataset, out_dir: Path, lineage: dict,
                     notes: str = "", tta: str = "centre", onnx: bool = True,
                     in_frame_faces: int = IN_FRAME_FACES) -> dict:
    """One release whose graph averages the probabilities of committed releases (dirs written by export)."""
    cards = [read_card(d) for d in member_dirs]
    data_hash = dataset.content_hash()  # a sha256 over every image: once, not per member
    for member_dir, card in zip(member_dirs, cards):
        if "members" in card:
            raise InvalidArgument(f"{member_dir}: is an ensemble already; list its members instead")
        if card["data"]["content_sha256"] != data_hash:
            raise InvalidArgument(f"{member_dir}: trained and evaluated on other data "
                             f"({card['data']['content_sha256'][:12]} != {data_hash[:12]})")
    from fer_platform.models.crops import with_tta  # Keras: not for the CLI's --help

    model = average_probabilities([with_tta(load_model(d / MODEL_FILE), tta) for d in member_dirs],
                                  name="ensemble_" + "_".join(c["arch"] for c in cards))
    settings = ensemble_settings([c["params"] for c in cards])
    out_dir.mkdir(parents=True, exist_ok=True)
    members = [{key: card[key] for key in _MEMBER_KEYS} | {"source": str(d)} for d, card in zip(member_dirs, cards)]
    best_member = max(cards, key=lambda c: c["publictest"]["accuracy"])
    return _write_release(model, dataset, settings, out_dir, lineage, notes, onnx, in_frame_faces, {
        "arch": "+".join(c["arch"] for c in cards), "architecture": "ensemble (mean of member probabilities)",
        "params": {c["arch"]: c["params"] for c in cards},
        "epochs_planned": [c["epochs_planned"] for c in cards],
        "epochs_completed": [c["epochs_completed"] for c in cards],
        "best_epoch": [c["best_epoch"] for c in cards],
        "selection": (f"each member: best epoch by PublicTest accuracy; the ensemble is compared with its best "
                      f"member `{best_member['arch']}` ({best_member['publictest']['accuracy']:.4f}) on "
                      f"PublicTest only; PrivateTest reported once"),
        "train_seconds": round(sum(c["train_seconds"] for c in cards), 1),
        "hardware": " + ".join(dict.fromkeys(c["hardware"] for c in cards)),
        "members": members,
    })


def ensemble_settings(member_params: list[dict]) -> TrainSettings:
    """The settings an ensemble is evaluated under: the first member's (only its eval subset, none, and seed
    matter), with every augment option any member trained with, so the card's "trained with" and unseen mean
    do not depend on the order of the members."""
    members = [TrainSettings.model_validate(p) for p in member_params]
    augment = members[0].augment.model_dump()
    for member in members[1:]:
        for option, value in member.augment.model_dump().items():
            if value not in OFF and augment[option] in OFF:
                augment[option] = value
    return members[0].model_copy(update={"augment": type(members[0].augment).model_validate(augment)})


_MEMBER_KEYS = ("arch", "architecture", "epochs_planned", "epochs_completed", "best_epoch", "train_seconds",
                "hardware", "code_commit", "publictest", "privatetest", "size_bytes")


def read_card(release_dir: Path) -> dict:
    for name in (CARD_FILE, MODEL_FILE):
        if not (release_dir / name).is_file():
            raise FileNotFoundError(f"{release_dir / name}: not found (a release directory written by "
                                    f"`python -m fer_platform.release export` has model.keras and model_card.json)")
    return json.loads((release_dir / CARD_FILE).read_text())


def refresh_card(release_dir: Path, dataset: FerDataset, lineage: dict,
                 in_frame_faces: int = IN_FRAME_FACES) -> dict:
    """Evaluate a release's model.keras again (same weights: model.keras and model.onnx are not touched) and
    rewrite its card, card text and confusion matrix with what an export writes today. Training, lineage and
    notes stay the card's own; `evaluated_at` names the code that measured it."""
    card = read_card(release_dir)
    data_hash = dataset.content_hash()  # a sha256 over every image: once
    if card["data"]["content_sha256"] != data_hash:
        raise InvalidArgument(f"{release_dir}: its card was measured on other data "
                              f"({card['data']['content_sha256'][:12]} != {data_hash[:12]}); "
                              "re-evaluate it on the data it was trained and evaluated on")
    from fer_platform.models import load_model  # Keras: once the card is known to be there

    model = load_model(release_dir / MODEL_FILE, compile=False)
    settings = ensemble_settings(list(card["params"].values())) if "members" in card else \
        TrainSettings.model_validate(card["params"])
    training = {k: v for k, v in card.items() if k not in _CARD_MEASURED}
    kept = {"data.dvc_md5": card["data"]["dvc_md5"], "git.commit": card["code_commit"]}
    staging = Path(tempfile.mkdtemp(prefix=".card-staging-", dir=release_dir))
    try:
        fresh = _release_card(model, dataset, settings, staging, kept, card["notes"],
                              training | {"evaluated_at": lineage.get("git.commit")}, in_frame_faces,
                              model_file=release_dir / MODEL_FILE)
        for path in staging.iterdir():
            os.replace(path, release_dir / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return fresh


# What _release_card measures or records itself; the rest of a card is its training's.
_CARD_MEASURED = {"registered_model", "data", "code_commit", "keras_version", "backend", "publictest", "privatetest",
                  "confusion_matrix_privatetest", "size_bytes", "n_params", "tta", "notes", "evaluated_at"}


def _write_release(model, dataset: FerDataset, settings: TrainSettings, out_dir: Path, lineage: dict, notes: str,
                   onnx: bool, in_frame_faces: int, training: dict, extra=None) -> dict:
    """Save the weights-only model, evaluate it on the full test splits, write the card and its matrix image.

    Every file is written into a staging folder beside the release first and moved in only once all are done
    (the model last): a failure or kill before that leaves the previous release as it was, with no file of the
    new one."""
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".release-staging-", dir=out_dir))
    try:
        model.save(staging / MODEL_FILE)
        if onnx:
            write_onnx(model, dataset, staging)
        if extra:
            extra(staging)
        card = _release_card(model, dataset, settings, staging, lineage, notes, training, in_frame_faces)
        for path in sorted(staging.iterdir(), key=lambda p: p.name == MODEL_FILE):  # the model last
            os.replace(path, out_dir / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return card


def write_onnx(model, dataset: FerDataset, out_dir: Path) -> dict:
    """`out_dir`/model.onnx, the model as ONNX, and its parity report against Keras on PrivateTest faces (the
    package stage's check); ParityError, and no file, if they disagree."""
    from fer_platform.packaging.onnx_export import (
        MIN_PARITY_FACES,
        check_parity,
        export_onnx,
        parity_faces,
        provenance,
    )

    faces = parity_faces(dataset)  # a full FER2013 has 3,589; a test's subset fewer (the report says how many)
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        onnx_path = export_onnx(model, Path(tmp) / ONNX_FILE)
        parity = check_parity(model, onnx_path, faces, min_faces=min(MIN_PARITY_FACES, len(faces)))
        # The package stage reuses this export for these weights, and this report under the same provenance.
        parity.update(provenance(model, onnx_path, faces))
        os.replace(onnx_path, out_dir / ONNX_FILE)  # the graph first: a report never describes a missing file
        write_json(out_dir / ONNX_PARITY_FILE, parity)
    return parity


def _release_card(model, dataset: FerDataset, settings: TrainSettings, out_dir: Path, lineage: dict, notes: str,
                  training: dict, in_frame_faces: int, model_file: Path | None = None) -> dict:
    """Evaluate `model` and write its card, card text and confusion matrix into `out_dir` (the staging folder):
    the full test splits, the robustness suite and the pipeline accuracy as the evaluate stage measures them."""
    model_file = model_file or out_dir / MODEL_FILE
    import keras  # start-up cost: the CLI's --help and argument errors stay instant

    full = settings.model_copy(update={"max_eval_per_class": None})
    reports = evaluate_model(model, dataset, full, in_frame=search_test_splits(dataset, in_frame_faces))
    summary = metrics_summary(training["arch"], reports)
    confusion_matrix_png(np.array(reports[REPORT]["confusion_matrix"]),
                         f"{training['arch']} PrivateTest: accuracy {reports[REPORT]['accuracy']:.4f}",
                         out_dir / "confusion_matrix_privatetest.png")
    card = {
        "registered_model": MODEL_NAME, **training,
        "data": {"dvc_md5": lineage.get("data.dvc_md5"), "content_sha256": dataset.content_hash(),
                 "n_train": len(dataset.split(TRAIN))},
        "code_commit": lineage.get("git.commit"),
        "keras_version": keras.__version__, "backend": keras.backend.backend(),
        "publictest": summary["publictest"], "privatetest": summary["privatetest"],
        "confusion_matrix_privatetest": reports[REPORT]["confusion_matrix"],
        "size_bytes": model_file.stat().st_size, "n_params": int(model.count_params()),
        "tta": _served_tta(model),
        "notes": notes,
    }
    write_json(out_dir / CARD_FILE, card)
    (out_dir / CARD_MARKDOWN).write_text(model_card_markdown(card))
    return card


def _served_tta(model) -> str:
    from fer_platform.models.crops import crop_tta

    return {None: "none (whole face)", "centre": "centre crop", "ten_crop": "ten crops, averaged in the graph"}[
        crop_tta(model)]


def _hardware(state: dict) -> str:
    """Where the checkpoint was trained: recorded by a hosted run (fer_platform.hosted), else here."""
    host = state.get("trained_on")
    if host:
        return f"{host.get('device', '?')} (Keras {host.get('keras', '?')}, {host.get('backend', '?')} backend)"
    return f"{platform.machine()} CPU, {os.cpu_count()} cores (Keras {_keras_version()}, this machine)"


def _keras_version() -> str:
    import keras  # start-up cost, as above

    return keras.__version__


