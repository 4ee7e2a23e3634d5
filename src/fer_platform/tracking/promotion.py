"""Promotion in the MLflow model registry: register the best candidate, gate `champion` behind a margin, record why.

The decision is a pure function (`decide`); `promote` is the adapter that reads and writes the registry.
Champion and candidate are compared on the same PublicTest images (the champion is re-scored on the
candidate's selection set), never on PrivateTest.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from fer_platform.models.inference import predict_probabilities
from fer_platform.tracking.model_logging import load_logged_model
from fer_platform.tracking.model_versions import CHALLENGER, CHAMPION, aliased_version, register_version

__all__ = ["CHALLENGER", "CHAMPION", "Candidate", "Decision", "best_candidate", "decide", "promote"]


@dataclass(frozen=True)
class Candidate:
    arch: str
    run_id: str
    model_uri: str
    publictest_accuracy: float  # selection: PublicTest (or the recipe's PublicTest subset)
    privatetest_accuracy: float  # reported only, never compared
    publictest_n: int


@dataclass(frozen=True)
class Decision:
    alias: str
    reason: str
    candidate: Candidate
    version: str | None = None
    previous_champion_version: str | None = None
    champion_publictest_accuracy: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def best_candidate(candidates: list[Candidate]) -> Candidate:
    if not candidates:
        raise ValueError("no candidates to promote (did the train and evaluate stages run?)")
    return max(candidates, key=lambda c: (c.publictest_accuracy, c.arch))


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
    candidate = best_candidate(candidates)
    champion_version, champion_accuracy = None, None
    champion = aliased_version(registered_model, CHAMPION)
    if champion is not None:
        champion_version = str(champion.version)
        champion_accuracy = score_registered(f"models:/{registered_model}@{CHAMPION}", selection_images,
                                             selection_labels)
    alias, reason = decide(candidate.publictest_accuracy, champion_accuracy, min_improvement)
    version = register_version(registered_model, candidate.model_uri, alias, {
        "arch": candidate.arch,
        "run_id": candidate.run_id,
        "promotion.decision": alias,
        "promotion.reason": reason,
        "promotion.previous_champion": str(champion_version),
        "publictest_accuracy": f"{candidate.publictest_accuracy:.4f}",
        "publictest_n": str(candidate.publictest_n),
        "privatetest_accuracy": f"{candidate.privatetest_accuracy:.4f}",
        "candidates": json.dumps({c.arch: round(c.publictest_accuracy, 4) for c in candidates}),
    })
    return Decision(alias, reason, candidate, version, champion_version, champion_accuracy)


def score_registered(model_uri: str, images: np.ndarray, labels: np.ndarray) -> float:
    probs = predict_probabilities(load_logged_model(model_uri), images)
    return float((probs.argmax(axis=1) == labels).mean())
