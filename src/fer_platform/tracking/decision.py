"""The promotion decision as pure logic (no MLflow, no Keras): which candidate is best, and whether it takes
`champion` from the current one. Champion and candidate are compared on the same PublicTest images, never on
PrivateTest, and on the field split's faces once there are enough of them; the adapter that reads and writes the
registry is tracking.promotion."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from fer_platform.errors import InvalidArgument

CHAMPION, CHALLENGER = "champion", "challenger"


@dataclass(frozen=True)
class Candidate:
    arch: str
    run_id: str
    model_uri: str
    publictest_accuracy: float  # selection: PublicTest (or the recipe's PublicTest subset)
    privatetest_accuracy: float  # reported only, never compared
    publictest_n: int
    publictest_robustness: float | None = None  # mean accuracy under perturbations.PERTURBATIONS (selection faces)


@dataclass(frozen=True)
class Decision:
    alias: str
    reason: str
    candidate: Candidate
    version: str | None = None
    previous_champion_version: str | None = None
    champion_publictest_accuracy: float | None = None
    champion_publictest_robustness: float | None = None
    field_n: int | None = None  # field faces scored on (None: fewer than promote.min_field_faces)
    field_accuracy: float | None = None
    champion_field_accuracy: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def best_candidate(candidates: list[Candidate]) -> Candidate:
    if not candidates:
        raise InvalidArgument("no candidates to promote (did the train and evaluate stages run?)")
    return max(candidates, key=lambda c: (c.publictest_accuracy, c.arch))


def decide(candidate_accuracy: float, champion_accuracy: float | None, min_improvement: float,
           n: int | None = None, champion_record: tuple[float, int] | None = None) -> tuple[str, str]:
    """(alias, reason). `champion` only if there is none or the candidate beats it by the margin. `n`: how many
    PublicTest faces both were scored on; `champion_record`: the champion's own (accuracy, faces) from its
    version, named when the faces differ (a recipe's subset scores it lower than its card's full split)."""
    on = f" on the same {n} PublicTest faces" if n else ""
    if n and champion_record and champion_record[1] != n:
        on += f" (a subset; its own record: {champion_record[0]:.4f} on {champion_record[1]} PublicTest faces)"
    if champion_accuracy is None:
        return CHAMPION, f"no champion yet; candidate PublicTest accuracy {candidate_accuracy:.4f}"
    gain = candidate_accuracy - champion_accuracy
    if gain >= min_improvement:
        return CHAMPION, (f"PublicTest accuracy {candidate_accuracy:.4f} beats champion {champion_accuracy:.4f}{on} "
                          f"by {gain:+.4f} >= margin {min_improvement}")
    return CHALLENGER, (f"PublicTest accuracy {candidate_accuracy:.4f} vs champion {champion_accuracy:.4f}{on} "
                        f"({gain:+.4f}) is below the margin {min_improvement}; champion kept")


def guard_robustness(alias: str, reason: str, candidate_robustness: float | None,
                     champion_robustness: float | None, max_drop: float) -> tuple[str, str]:
    """A candidate that won on accuracy still loses `champion` if its robustness mean (the same perturbed
    PublicTest faces) is more than `max_drop` below the champion's: more accurate on clean crops, more fragile
    on real ones. Without both numbers (a model evaluated before the suite existed) the accuracy decision stands."""
    if alias != CHAMPION or candidate_robustness is None or champion_robustness is None:
        return alias, reason
    drop = champion_robustness - candidate_robustness
    if drop > max_drop:
        return CHALLENGER, (f"{reason}, but its robustness mean {candidate_robustness:.4f} is {drop:.4f} below the "
                            f"champion's {champion_robustness:.4f} (more than max_robustness_drop {max_drop}); "
                            "champion kept")
    return alias, f"{reason}; robustness mean {candidate_robustness:.4f} vs champion {champion_robustness:.4f}"


def guard_field(alias: str, reason: str, candidate_accuracy: float | None, champion_accuracy: float | None,
                n: int, min_faces: int) -> tuple[str, str]:
    """A candidate that would take `champion` still loses it if it is less accurate than the champion on the same
    `n` field faces (labelled through POST /feedback: faces the service really saw), once there are at least
    `min_faces` of them (both accuracies are needed then); below that the gate is skipped and the reason says so."""
    if alias != CHAMPION:
        return alias, reason
    if n < min_faces:
        return alias, f"{reason}; field gate skipped: {n} field faces, fewer than promote.min_field_faces {min_faces}"
    if candidate_accuracy < champion_accuracy:
        return CHALLENGER, (f"{reason}, but on the same {n} field faces its accuracy {candidate_accuracy:.4f} is "
                            f"below the champion's {champion_accuracy:.4f}; champion kept")
    return alias, f"{reason}; field accuracy {candidate_accuracy:.4f} vs champion {champion_accuracy:.4f} on {n} faces"
