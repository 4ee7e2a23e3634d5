"""Register the best architecture in the MLflow registry; alias it `champion` only if it beats the champion (on
PublicTest, and on the field split once it holds promote.min_field_faces faces)."""

from __future__ import annotations

import json

from prefect import flow, task

from fer_platform import paths
from fer_platform.cli import run_stage
from fer_platform.config import load_params
from fer_platform.data.dataset import load_dataset
from fer_platform.data.field import load_field
from fer_platform.data.splits import recipe_splits
from fer_platform.io import write_json
from fer_platform.labels import SELECTION
from fer_platform.tracking.decision import Candidate, best_candidate


def load_candidates(archs: list[str]) -> list[Candidate]:
    candidates = []
    for arch in archs:
        summary_path, run_path = paths.evaluation_summary(arch), paths.model_dir(arch) / "run.json"
        for path in (summary_path, run_path):
            if not path.exists():
                raise FileNotFoundError(f"{path}: missing (train and evaluate {arch} first)")
        metrics, run = json.loads(summary_path.read_text()), json.loads(run_path.read_text())
        if not run.get("model_uri"):
            raise FileNotFoundError(f"{run_path}: {arch} was trained without MLflow tracking; nothing to register")
        candidates.append(Candidate(arch, run["run_id"], run["model_uri"], metrics["publictest"]["accuracy"],
                                    metrics["privatetest"]["accuracy"], metrics["publictest"]["n"],
                                    metrics["publictest"].get("robustness_mean")))
    return candidates


@task(name="promote-best")
def promote_task(params: str) -> dict:
    loaded = load_params(params)
    candidates = load_candidates(loaded.architectures())
    # Here, not at the top: MLflow and Keras take ~12 s to import; a wrong argument fails before that.
    from fer_platform.tracking.promotion import promote

    best = best_candidate(candidates)
    selection = recipe_splits(load_dataset(paths.DATASET), loaded.train_settings(best.arch))[SELECTION]
    field = load_field(paths.FIELD)
    decision = promote(candidates, loaded.promote.registered_model, loaded.promote.min_improvement,
                       selection.images, selection.labels, loaded.promote.max_robustness_drop,
                       loaded.evaluate.robustness_faces, field.images, field.labels, loaded.promote.min_field_faces)
    result = decision.to_dict()
    write_json(paths.PROMOTION, result)
    return result


@flow(name="promote", log_prints=True)
def promote_flow(params: str = "params.yaml") -> dict:
    """Pick the best run by PublicTest accuracy, register it, alias champion/challenger, record why."""
    result = promote_task(params)
    print(f"{result['candidate']['arch']} -> version {result['version']} @{result['alias']}: {result['reason']}")
    return result


def main(argv: list[str] | None = None) -> int:
    return run_stage("promote", promote_flow, argv, None,
                     lambda args, params: [(paths.DATASET, "run the ingest stage first: dvc repro ingest")])


if __name__ == "__main__":
    raise SystemExit(main())
