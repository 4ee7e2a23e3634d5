"""The whole pipeline as one Prefect flow run: ingest -> validate -> in_frame -> train (every architecture, on the
configured task runner: threads or a Dask cluster) -> evaluate -> promote -> package.

This is what a Prefect deployment runs (prefect.yaml; docs/scaling-out.md): one flow run in the Prefect UI with
each stage a subflow, training spread over Dask workers. `dvc repro` runs the same stages one DVC stage at a
time and records them in dvc.lock; this flow does not touch dvc.lock.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from prefect import flow

from fer_platform.cli import run_stage, write_profile_params
from fer_platform.io import write_json
from flows.evaluate import evaluate_flow
from flows.in_frame import in_frame_flow
from flows.ingest import ingest_flow
from flows.package import package_flow
from flows.promote import promote_flow
from flows.train import train_flow
from flows.validate import validate_flow

PIPELINE_REPORT = Path("reports/pipeline.json")


def profile_params(params: str, profile: str) -> str:
    """params.yaml with a profile's overrides applied, as a file every stage (and every Dask worker) reads."""
    return str(write_profile_params(params, profile, Path("artifacts/pipeline") / f"params.{profile}.yaml"))


@flow(name="pipeline", log_prints=True)
def pipeline_flow(params: str = "params.yaml", profile: str | None = None, package: bool = True) -> dict:
    """Run every stage in order, each a subflow; training runs under `pipeline.task_runner`."""
    if profile:
        params = profile_params(params, profile)
    manifest = ingest_flow(params)
    report: dict = {"params": params, "pid": os.getpid(), "host": socket.gethostname(),  # where the flow ran
                    "ingest": {k: manifest[k] for k in ("n_images", "split_sizes")}}
    report["validate"] = {"success": validate_flow(params)["success"]}
    report["in_frame"] = in_frame_flow(params)
    report["train"] = train_flow(params)
    report["evaluate"] = evaluate_flow(params)
    report["promote"] = promote_flow(params)
    if package:
        report["package"] = package_flow(params)
    write_json(PIPELINE_REPORT, report)
    print(f"pipeline done: {report['promote']['candidate']['arch']} -> @{report['promote']['alias']}; "
          f"report {PIPELINE_REPORT}")
    return report


def _options(parser) -> None:
    parser.add_argument("--profile", help="apply a params.yaml profile (e.g. quick) to every stage")
    parser.add_argument("--no-package", dest="package", action="store_false",
                        help="stop after promote (no ONNX export, no bento)")


def main(argv: list[str] | None = None) -> int:
    return run_stage("pipeline", pipeline_flow, argv, _options, lambda args, params: [
        (params.data.source, "the FER2013 image folders or fer2013.csv; `dvc pull data.dvc` fetches the pinned copy")])


if __name__ == "__main__":
    raise SystemExit(main())
