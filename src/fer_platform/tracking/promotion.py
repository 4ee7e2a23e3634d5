"""Promotion in the MLflow model registry: register the best candidate, gate `champion` behind a margin, record why.

The decision is pure logic (tracking.decision); `promote` is the adapter that reads and writes the registry.
Champion and candidate are compared on the same PublicTest images (the champion is re-scored on the
candidate's selection set), never on PrivateTest.
"""

from __future__ import annotations

import json
import numpy as np

from fer_platform.models.inference import predict_probabilities
from fer_platform.tracking.model_logging import load_logged_model
from fer_platform.tracking.decision import CHALLENGER, CHAMPION, Candidate, Decision, best_candidate, decide
from fer_platform.tracking.model_versions import aliased_version, register_version

__all__ = ["CHALLENGER", "CHAMPION", "Candidate", "Decision", "best_candidate", "decide", "promote"]


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
