"""MLflow model registry: register the best candidate, gate `champion` behind a margin, record why.

The decision is a pure function (`decide`); `promote` is the adapter that reads and writes the registry.
Champion and candidate are compared on the same PublicTest images (the champion is re-scored on the
candidate's selection set), never on PrivateTest.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

CHAMPION, CHALLENGER = "champion", "challenger"


@dataclass(frozen=True)
class Candidate:
    arch: str
    run_id: str
    model_uri: str
    selection_accuracy: float  # PublicTest (or the recipe's PublicTest subset)
    report_accuracy: float  # PrivateTest, reported only
    selection_n: int


@dataclass(frozen=True)
class Decision:
    alias: str
    reason: str
    candidate: Candidate
    version: str | None = None
    previous_champion_version: str | None = None
    champion_selection_accuracy: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def best_candidate(candidates: list[Candidate]) -> Candidate:
    if not candidates:
        raise ValueError("no candidates to promote (did the train and evaluate stages run?)")
    return max(candidates, key=lambda c: (c.selection_accuracy, c.arch))


def decide(candidate_accuracy: float, champion_accuracy: float | None, min_improvement: float) -> tuple[str, str]:
    """(alias, reason). `champion` only if there is none or the candidate beats it by the margin."""
    if champion_accuracy is None:
        return CHAMPION, f"no champion yet; candidate PublicTest accuracy {candidate_accuracy:.4f}"
    gain = candidate_accuracy - champion_accuracy
    if gain >= min_improvement:
        return CHAMPION, (f"PublicTest accuracy {candidate_accuracy:.4f} beats champion {champion_accuracy:.4f} "
                          f"by {gain:+.4f} >= margin {min_improvement}")
    return CHALLENGER, (f"PublicTest accuracy {candidate_accuracy:.4f} vs champion {champion_accuracy:.4f} "
                        f"({gain:+.4f}) is below the margin {min_improvement}; champion kept")


def promote(candidates: list[Candidate], registered_model: str, min_improvement: float,
            selection_images: np.ndarray, selection_labels: np.ndarray) -> Decision:
    """Register the best candidate as a new version of `registered_model` and alias it."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from fer_platform import tracking

    tracking.configure()
    client = MlflowClient()
    candidate = best_candidate(candidates)
    champion_version, champion_accuracy = None, None
    try:
        champion = client.get_model_version_by_alias(registered_model, CHAMPION)
        champion_version = str(champion.version)
        champion_accuracy = score_registered(f"models:/{registered_model}@{CHAMPION}", selection_images,
                                             selection_labels)
    except MlflowException:
        pass
    alias, reason = decide(candidate.selection_accuracy, champion_accuracy, min_improvement)
    version = register_version(client, registered_model, candidate.model_uri, alias, {
        "arch": candidate.arch,
        "run_id": candidate.run_id,
        "promotion.decision": alias,
        "promotion.reason": reason,
        "promotion.previous_champion": str(champion_version),
        "publictest_accuracy": f"{candidate.selection_accuracy:.4f}",
        "publictest_n": str(candidate.selection_n),
        "privatetest_accuracy": f"{candidate.report_accuracy:.4f}",
        "candidates": json.dumps({c.arch: round(c.selection_accuracy, 4) for c in candidates}),
    })
    return Decision(alias, reason, candidate, version, champion_version, champion_accuracy)


def register_version(client, registered_model: str, model_uri: str, alias: str, tags: dict[str, str]) -> str:
    """Register `model_uri` as a new version (creating the registered model if needed), point `alias` at it
    and record `tags` on it. Used by the promotion gate and by the release bootstrap."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(registered_model)
    except MlflowException:
        client.create_registered_model(
            registered_model, description="FER2013 facial-expression classifier (7 labels, 48x48 uint8 input)"
        )
    version = str(mlflow.register_model(model_uri, registered_model).version)
    client.set_registered_model_alias(registered_model, alias, version)
    for key, value in tags.items():
        client.set_model_version_tag(registered_model, version, key, value)
    return version


def score_registered(model_uri: str, images: np.ndarray, labels: np.ndarray) -> float:
    import mlflow.keras

    from fer_platform.evaluation.evaluate import predict_probabilities
    from fer_platform.models.registry import register_layers

    register_layers()  # before MLflow deserialises the Keras model
    probs = predict_probabilities(mlflow.keras.load_model(model_uri), images)
    return float((probs.argmax(axis=1) == labels).mean())
