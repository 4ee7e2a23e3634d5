"""An ensemble release: one saved graph that averages its members, with a card that names them."""

import json

import numpy as np
import pytest

from fer_platform.config import load_params
from fer_platform.labels import EMOTIONS
from tests.conftest import REPO


pytestmark = pytest.mark.slow  # exports and evaluates releases end to end


TINY = {"resnet32": {"blocks_per_stage": [1, 1, 1], "widths": [4, 8, 8]},
        "resnet_compact": {"blocks_per_stage": [1, 1, 1, 1], "widths": [4, 8, 8, 8], "dropout": 0.3}}


def _tiny_settings(arch):
    return load_params(REPO / "params.yaml").train_settings(arch).model_copy(update={"model": TINY[arch]})


def _member_release(arch, small_dataset, tmp_path, crop=None, tta="centre"):
    """A real (untrained) release directory, written by the same export as a trained one."""
    import keras

    from fer_platform.models import build_model
    from fer_platform.release.export import export_release

    settings = _tiny_settings(arch)
    if crop:
        settings = settings.model_copy(update={"augment": settings.augment.model_copy(update={"crop": crop})})
    keras.utils.set_random_seed(len(arch))
    model = build_model(arch, augment=settings.augment.model_dump(), **settings.model)
    model.save(tmp_path / f"{arch}_best.keras")
    state = {"epoch": 1, "best_epoch": 1, "train_seconds": 1.0,
             "history": [{"epoch": 1, "accuracy": 0.2, "loss": 2.0, "val_accuracy": 0.2, "val_loss": 2.0}]}
    export_release(tmp_path / f"{arch}_best.keras", arch, settings, state, small_dataset, tmp_path / arch,
                   {"git.commit": "abc1234", "data.dvc_md5": "d" * 32}, tta=tta, onnx=False,  # ONNX: the ensemble's
                   in_frame_faces=7)
    return tmp_path / arch


def test_a_release_serves_ten_crops_inside_its_graph_and_its_card_says_so(small_dataset, tmp_path):
    from fer_platform.models import load_model
    from fer_platform.models.crops import crop_tta
    from fer_platform.models.inference import predict_probabilities

    release = _member_release("resnet_compact", small_dataset, tmp_path, crop=44, tta="ten_crop")
    card = json.loads((release / "model_card.json").read_text())
    served = load_model(release / "model.keras")
    assert crop_tta(served) == "ten_crop" and card["tta"] == "ten crops, averaged in the graph"
    assert card["n_params"] == served.count_params() and "ten_crop_accuracy" not in card["publictest"]
    test = small_dataset.split("PrivateTest")
    predicted = predict_probabilities(served, test.images).argmax(axis=1)
    assert round(float(np.mean(predicted == test.labels)), 4) == card["privatetest"]["accuracy"]
    assert "| served crops | ten crops, averaged in the graph |" in (release / "MODEL_CARD.md").read_text()


def test_ensemble_release_card_reproduces_and_refuses_bad_members(small_dataset, tmp_path, capsys):
    from fer_platform.models.inference import predict_probabilities
    from fer_platform.models import load_model
    from fer_platform.release.cli import main
    from fer_platform.release.export import ensemble_release, refresh_card

    dirs = [_member_release(arch, small_dataset, tmp_path) for arch in TINY]
    card = ensemble_release(dirs, small_dataset, tmp_path / "ens", {"git.commit": "def5678"}, in_frame_faces=14)
    assert card["arch"] == "resnet32+resnet_compact" and [m["arch"] for m in card["members"]] == list(TINY)
    assert card["epochs_completed"] == [1, 1] and card["privatetest"]["n"] == 42
    saved = json.loads((tmp_path / "ens/model_card.json").read_text())
    assert saved["size_bytes"] == (tmp_path / "ens/model.keras").stat().st_size
    # Its ONNX graph, what the Python API runs: checked against the Keras graph on every PrivateTest face here
    parity = json.loads((tmp_path / "ens/onnx_parity.json").read_text())
    assert parity["ok"] and parity["faces"] == 42 and parity["max_abs_diff"] <= 1e-4
    from fer_platform.api import FER

    in_process = FER.from_release(tmp_path / "ens").classify(small_dataset.split("PrivateTest").images)
    assert [f["label"] for f in in_process] == [EMOTIONS[i] for i in predict_probabilities(
        load_model(tmp_path / "ens/model.keras"), small_dataset.split("PrivateTest").images).argmax(1)]
    text = (tmp_path / "ens/MODEL_CARD.md").read_text()
    assert "`resnet32`: 1/" in text
    # What the issue (#24) asks of a card: intended use and limitations, the robustness table, pipeline accuracy.
    for part in ("## Intended use and limitations", "not as a lie detector", "| perturbation | PrivateTest accuracy",
                 "| jpeg |", "| **mean** |", "Pipeline accuracy (evaluation.in_frame: 14 PrivateTest faces"):
        assert part in text, part
    # Evaluated again (`release card`): the weights untouched, the measurements and text rewritten, the lineage kept.
    weights = (tmp_path / "ens/model.keras").read_bytes()
    (tmp_path / "ens/MODEL_CARD.md").write_text("an old card")
    refresh_card(tmp_path / "ens", small_dataset, {"git.commit": "0ab1234"}, in_frame_faces=14)
    again = json.loads((tmp_path / "ens/model_card.json").read_text())
    assert (tmp_path / "ens/model.keras").read_bytes() == weights and again["code_commit"] == "def5678"
    assert again["privatetest"] == saved["privatetest"] and again["members"] == saved["members"]
    assert again["evaluated_at"] == "0ab1234" and "Pipeline accuracy" in (tmp_path / "ens/MODEL_CARD.md").read_text()
    measured_elsewhere = {**again, "data": {**again["data"], "content_sha256": "0" * 64}}
    (tmp_path / "ens/model_card.json").write_text(json.dumps(measured_elsewhere))
    with pytest.raises(ValueError, match="measured on other data"):
        refresh_card(tmp_path / "ens", small_dataset, {}, in_frame_faces=14)
    assert main(["card", "--release", str(tmp_path / "none")]) == 1  # before reading any image
    assert "none/model_card.json: not found" in capsys.readouterr().err
    test = small_dataset.split("PrivateTest")
    predicted = predict_probabilities(load_model(tmp_path / "ens/model.keras"), test.images).argmax(axis=1)
    assert round(float(np.mean(predicted == test.labels)), 4) == saved["privatetest"]["accuracy"]

    other = json.loads((dirs[1] / "model_card.json").read_text())
    other["data"]["content_sha256"] = "0" * 64
    (dirs[1] / "model_card.json").write_text(json.dumps(other))
    with pytest.raises(ValueError, match="other data"):
        ensemble_release(dirs, small_dataset, tmp_path / "ens2", {})
    with pytest.raises(ValueError, match="ensemble already"):
        ensemble_release([tmp_path / "ens", dirs[0]], small_dataset, tmp_path / "ens3", {})
    assert main(["ensemble", "--member", str(tmp_path / "nope"), "--member", str(dirs[0]),
                 "--out", str(tmp_path / "ens4"), "--dataset", str(tmp_path / "no-dataset.npz")]) == 1
    assert "nope/model_card.json: not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # writing over a member would lose it
        main(["ensemble", "--member", str(dirs[0]), "--member", str(dirs[1]), "--out", str(dirs[0])])
    assert (dirs[0] / "model_card.json").exists() and not (tmp_path / "ens4").exists()


def test_an_export_that_fails_half_way_leaves_the_previous_release_whole(small_dataset, tmp_path, monkeypatch):
    """#23.6: the export saved model.keras over the release before evaluating it, so a failure (or a kill)
    after that left a new model beside the old card."""
    import fer_platform.release.export as export

    release = _member_release("resnet32", small_dataset, tmp_path)
    kept = ("model.keras", "model_card.json", "MODEL_CARD.md", "confusion_matrix_privatetest.png",
            "training_curves.png")
    before = {name: (release / name).read_bytes() for name in kept}

    def killed(*args, **kwargs):
        raise RuntimeError("stopped half-way through the export")

    monkeypatch.setattr(export, "evaluate_model", killed)  # the failure injected where the old code had written
    with pytest.raises(RuntimeError, match="half-way"):
        _member_release("resnet32", small_dataset, tmp_path)
    assert {name: (release / name).read_bytes() for name in kept} == before
    assert not [p.name for p in release.iterdir() if p.name.startswith(".")]  # no temporary left behind
