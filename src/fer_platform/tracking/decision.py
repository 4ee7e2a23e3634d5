"""The promotion decision as pure logic (no MLflow, no Keras): which candidate is best, and whether it takes
`champion` from the current one. Champion and candidate are compared on the same PublicTest images, never on
PrivateTest; the adapter that reads and writes the registry is tracking.promotion."""

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
        raise InvalidArgument("no candidates to promote (did the train and evaluate stages run?)")
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
