"""Promotion in the MLflow model registry: register the best candidate, gate `champion` behind a margin, record why.

The decision is pure logic (tracking.decision); `promote` is the adapter that reads and writes the registry.
Champion and candidate are compared on the same PublicTest images (the champion is re-scored on the
candidate's selection set), never on PrivateTest; and, once the field split holds promote.min_field_faces, both
are scored here on its faces (so an evaluation of an older field version cannot decide).
"""

from __future__ import annotations

import json

import numpy as np

from fer_platform.config import PromoteSettings
from fer_platform.errors import UserError
from fer_platform.models.inference import non_finite_problem, predict_probabilities
from fer_platform.perturbations import robustness_report
from fer_platform.tracking.decision import (
    CHALLENGER,
    CHAMPION,
    Candidate,
    Decision,
    best_candidate,
    decide,
    guard_field,
    guard_robustness,
)
from fer_platform.tracking.model_logging import load_logged_model
from fer_platform.tracking.model_versions import (
    AliasMoved,
    RegistryUnavailable,
    alias_lock,
    aliased_version,
    point_alias,
    register_version,
    set_version_tags,
)

__all__ = ["CHALLENGER", "CHAMPION", "Candidate", "Decision", "NonFiniteModel", "best_candidate", "decide",
           "promote"]


class NonFiniteModel(UserError):
    """A candidate with NaN/Inf weights or outputs: never registered."""


def promote(candidates: list[Candidate], registered_model: str, min_improvement: float,
            selection_images: np.ndarray, selection_labels: np.ndarray,
            max_robustness_drop: float = PromoteSettings().max_robustness_drop,
            robustness_faces: int | None = None, field_images: np.ndarray | None = None,
            field_labels: np.ndarray | None = None,
            min_field_faces: int = PromoteSettings().min_field_faces) -> Decision:
    """Register the best candidate as a new version of `registered_model` and alias it.

    Decision and move are consistent: under `alias_lock`, and if `champion` still moved meanwhile (a tracking
    server, where there is no lock) the decision is made again against the new champion."""
    candidate = best_candidate(candidates)
    try:
        model = load_logged_model(candidate.model_uri)
    except Exception as err:  # a store that cannot be read (locked, down): one line, nothing changed
        raise RegistryUnavailable(f"cannot load {candidate.model_uri} from the MLflow store: "
                                  f"{str(err).splitlines()[0][:300]}; nothing was changed") from err
    problem = non_finite_problem(model, selection_images)
    if problem:
        raise NonFiniteModel(f"refusing to register {candidate.arch} ({candidate.model_uri}): {problem}; "
                             "the registry is unchanged (retrain it: see the training log for where it diverged)")
    version = None
    field_n = 0 if field_labels is None else len(field_labels)
    # The candidate too is scored here, not taken from its evaluation: both on exactly these field faces.
    field_accuracy = accuracy_of(model, field_images, field_labels) if field_n >= min_field_faces else None
    with alias_lock(registered_model):
        for _attempt in range(MAX_ATTEMPTS):
            champion = aliased_version(registered_model, CHAMPION)
            champion_version = None if champion is None else str(champion.version)
            champion_model = None if champion is None else load_logged_model(
                f"models:/{registered_model}/{champion_version}")
            champion_accuracy = None if champion_model is None else accuracy_of(
                champion_model, selection_images, selection_labels)
            alias, reason = decide(candidate.publictest_accuracy, champion_accuracy, min_improvement,
                                   len(selection_labels), _record(champion))
            champion_robustness = None
            if alias == CHAMPION and champion_model is not None and candidate.publictest_robustness is not None:
                # Only when accuracy alone would move `champion`: 25 perturbed copies of the faces cost time.
                champion_robustness = robustness_of(champion_model, selection_images, selection_labels,
                                                    robustness_faces)
                alias, reason = guard_robustness(alias, reason, candidate.publictest_robustness,
                                                 champion_robustness, max_robustness_drop)
            champion_field = None
            if alias == CHAMPION and champion_model is not None:
                if field_accuracy is not None:
                    champion_field = accuracy_of(champion_model, field_images, field_labels)
                alias, reason = guard_field(alias, reason, field_accuracy, champion_field, field_n, min_field_faces)
            tags = _tags(candidate, candidates, alias, reason, champion_version)
            if field_accuracy is not None:
                tags.update({"field_accuracy": f"{field_accuracy:.4f}", "field_n": str(field_n)})
            if version is None:
                version = register_version(registered_model, candidate.model_uri, tags)
            else:
                set_version_tags(registered_model, version, tags)
            try:
                point_alias(registered_model, alias, version, champion_seen=champion_version)
            except AliasMoved as moved:
                print(f"{moved}; deciding again", flush=True)
                continue
            return Decision(alias, reason, candidate, version, champion_version, champion_accuracy,
                            champion_robustness, None if field_accuracy is None else field_n, field_accuracy,
                            champion_field)
    raise UserError(f"{registered_model}@{CHAMPION} moved {MAX_ATTEMPTS} times while promoting; version {version} "
                    "is registered without an alias: run the promote stage again")


MAX_ATTEMPTS = 3


def _tags(candidate: Candidate, candidates: list[Candidate], alias: str, reason: str,
          champion_version: str | None) -> dict[str, str]:
    return {
        "arch": candidate.arch,
        "run_id": candidate.run_id,
        "promotion.decision": alias,
        "promotion.reason": reason,
        "promotion.previous_champion": str(champion_version),
        "publictest_accuracy": f"{candidate.publictest_accuracy:.4f}",
        "publictest_n": str(candidate.publictest_n),
        "privatetest_accuracy": f"{candidate.privatetest_accuracy:.4f}",
        **({"publictest_robustness_mean": f"{candidate.publictest_robustness:.4f}"}
           if candidate.publictest_robustness is not None else {}),
        "candidates": json.dumps({c.arch: round(c.publictest_accuracy, 4) for c in candidates}),
    }


def _record(version) -> tuple[float, int] | None:
    """A version's own PublicTest (accuracy, faces) from its tags, if it has both."""
    try:
        return float(version.tags["publictest_accuracy"]), int(version.tags["publictest_n"])
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


def accuracy_of(model, images: np.ndarray, labels: np.ndarray) -> float:
    probs = predict_probabilities(model, images)
    return float((probs.argmax(axis=1) == labels).mean())


def robustness_of(model, images: np.ndarray, labels: np.ndarray, max_faces: int | None) -> float:
    """The robustness mean of a model on the faces (and subset) the candidate's evaluation used."""
    return robustness_report(lambda faces: predict_probabilities(model, faces), images, labels,
                             max_faces=max_faces)["mean"]
