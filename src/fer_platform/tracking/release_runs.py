"""The committed release model in MLflow: one run holding its card and model, registered as a version."""

from __future__ import annotations

from pathlib import Path

import mlflow

from fer_platform.tracking import store
from fer_platform.tracking.model_logging import log_keras_model
from fer_platform.tracking.model_versions import point_alias, register_version

CARD_FILES = ("MODEL_CARD.md", "model_card.json", "confusion_matrix_privatetest.png")


def register_release(card: dict, model, release_dir: Path, registered_model: str, alias: str,
                     reason: str, champion_seen: str | None) -> str:
    """Log the release as a run (tags, its card's numbers and files, the model), register it under `alias`
    (if `champion` is still `champion_seen`); returns the new version."""
    store.configure()
    with mlflow.start_run(run_name=f"release-{card['arch']}") as run:
        mlflow.set_tags({"arch_key": card["arch"], "architecture": card["architecture"], "release": "true",
                         "data.dvc_md5": str(card["data"]["dvc_md5"]), "git.commit": str(card["code_commit"])})
        mlflow.log_params({"release.epochs_completed": card["epochs_completed"],
                           "release.best_epoch": card["best_epoch"]})
        mlflow.log_metrics({"publictest_accuracy": card["publictest"]["accuracy"],
                            "privatetest_final_accuracy": card["privatetest"]["accuracy"],
                            "publictest_macro_f1": card["publictest"]["macro_f1"],
                            "privatetest_macro_f1": card["privatetest"]["macro_f1"]})
        for name in CARD_FILES:
            if (release_dir / name).exists():
                mlflow.log_artifact(str(release_dir / name), artifact_path="release")
        info = log_keras_model(model)
    version = register_version(registered_model, info.model_uri, {
        "arch": card["arch"], "run_id": run.info.run_id,
        "promotion.decision": alias, "promotion.reason": reason,
        "publictest_accuracy": f"{card['publictest']['accuracy']:.4f}",
        "publictest_n": str(card["publictest"]["n"]),
        "privatetest_accuracy": f"{card['privatetest']['accuracy']:.4f}",
    })
    point_alias(registered_model, alias, version, champion_seen)
    return version
