"""Validate the canonical dataset: Great Expectations suite + duplicate/leak/blank checks."""

from __future__ import annotations

from prefect import flow, task

from fer_platform import paths
from fer_platform.cli import StageFailed, run_stage
from fer_platform.config import load_params
from fer_platform.data.dataset import load_dataset
from fer_platform.io import write_json
from fer_platform.validation.report import validate_dataset


@task(name="validate-dataset")
def validate_task(params: str) -> dict:
    settings = load_params(params).validate_settings
    report = validate_dataset(load_dataset(paths.DATASET), settings, paths.DATA_DOCS)
    summary = report.to_dict()
    write_json(paths.VALIDATION_SUMMARY, summary)
    return summary


@flow(name="validate", log_prints=True)
def validate_flow(params: str = "params.yaml") -> dict:
    """Validate the ingested dataset; errors fail the flow (non-zero exit), warnings are reported."""
    summary = validate_task(params)
    for warning in summary["warnings"]:
        print(f"WARNING {warning[:400]}")
    for error in summary["errors"]:
        print(f"ERROR {error[:1000]}")
    print(f"report: {paths.VALIDATION_SUMMARY}; Data Docs: {paths.DATA_DOCS / 'index.html'}")
    if summary["errors"]:
        raise StageFailed(f"{len(summary['errors'])} validation error(s); first: {summary['errors'][0][:1000]}")
    return summary


def main(argv: list[str] | None = None) -> int:
    return run_stage("validate", validate_flow, argv, None,
                     lambda args, params: [(paths.DATASET, "run the ingest stage first: dvc repro ingest")])


if __name__ == "__main__":
    raise SystemExit(main())
