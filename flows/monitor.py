"""The monitor flow (#27): a window of the service's prediction log against the served model's reference.

    python -m flows.monitor --log logs/predictions [--reference FILE] [--since ISO-TIME] [--last N]

Scores every field and the label mix (PSI, Kolmogorov-Smirnov: fer_platform.monitoring.drift; thresholds in
params.yaml `monitor`), writes an HTML report with plots (reports/monitoring/), logs an MLflow run with the
scores in its own experiment, and when drift crosses the thresholds emits the Prefect event DRIFT_EVENT, on
which prefect.yaml's `train` deployment has a trigger: a drifted log starts a retraining.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from prefect import flow, task

from fer_platform import version
from fer_platform.config import load_params
from fer_platform.errors import UserError, entry_point
from fer_platform.io import write_json
from fer_platform.monitoring.drift import Thresholds, compare, scores
from fer_platform.monitoring.log_window import read_window
from fer_platform.monitoring.report import write_report
from fer_platform.packaging.reference import REFERENCE_FILE, read_reference

DRIFT_EVENT = "fer.monitor.drift.detected"  # prefect.yaml's train deployment triggers on it
REPORTS = Path("reports/monitoring")


def served_reference(registered_model: str) -> Path:
    """The reference stored with the served model (the BentoML model-store entry the package stage wrote)."""
    import bentoml  # here: only when no --reference is given

    try:
        path = Path(bentoml.models.get(f"{registered_model}:latest").path_of(REFERENCE_FILE))
    except bentoml.exceptions.NotFound:
        raise UserError(f"no BentoML model {registered_model!r} to take the reference from (make package, or "
                        "pass --reference)") from None
    if not path.is_file():
        raise UserError(f"{path}: this model was packaged without a reference (package it again: make package)")
    return path


@task(name="emit-drift-event")
def emit_drift(registered_model: str, result: dict, run_id: str, report: Path) -> str:
    from prefect.events import emit_event
    from prefect.events.worker import EventsWorker

    event = emit_event(event=DRIFT_EVENT, resource={"prefect.resource.id": f"fer.model.{registered_model}",
                                                    "prefect.resource.name": registered_model},
                       payload={"drifted": result["drifted"], "n": result["n"], "scores": scores(result),
                                "mlflow_run_id": run_id, "report": str(report)})
    EventsWorker.drain_all()  # sent before the flow returns, not at interpreter exit
    return str(event.id) if event else ""


@flow(name="monitor", log_prints=True)
def monitor_flow(log: str, reference: str | None = None, params: str = "params.yaml", since: str | None = None,
                 last: int | None = None, out: str = str(REPORTS)) -> dict:
    """A window of the prediction log (`--since`, else the newest monitor.window_faces) against the reference:
    HTML report, MLflow run, and a Prefect event when it drifted."""
    settings = load_params(params)
    limits = settings.monitor
    ref_path = Path(reference) if reference else served_reference(settings.promote.registered_model)
    ref = read_reference(ref_path)
    window = read_window(log, since=datetime.fromisoformat(since) if since else None,
                         last=last or (None if since else limits.window_faces))
    result = compare(ref, window, Thresholds(limits.psi_threshold, limits.ks_pvalue, limits.bins, limits.min_faces))
    result["thresholds"] = {"psi": limits.psi_threshold, "ks_pvalue": limits.ks_pvalue, "min_faces": limits.min_faces}
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    report = write_report(Path(out) / f"drift-{stamp}.html", result, ref, window,
                          f"Drift of {settings.promote.registered_model}: {result['verdict']}")
    from fer_platform.tracking.monitor_runs import log_monitor_run  # here: MLflow takes seconds to import

    first, final = (window[0]["time"], window[-1]["time"]) if window else ("", "")
    result["mlflow_run_id"] = log_monitor_run(limits.experiment, scores(result), {
        "verdict": result["verdict"], "drifted": ",".join(result["drifted"]), "window_start": first,
        "window_end": final, "reference": str(ref_path), "log": str(log)}, report)
    result["report"] = str(report)
    if result["drift"]:
        result["event_id"] = emit_drift(settings.promote.registered_model, result, result["mlflow_run_id"], report)
    write_json(Path(out) / "latest.json", result)  # whole or not at all: a reader never sees half a verdict
    print(f"monitor: {result['verdict']} ({result['n']} faces; drifted: {', '.join(result['drifted']) or 'nothing'})"
          f"; report {report}; MLflow run {result['mlflow_run_id']}")
    return result


@entry_point("python -m flows.monitor", also=(ValueError,))
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.monitor", description=monitor_flow.__doc__)
    parser.add_argument("--log", required=True, help="the prediction log's directory (serve.prediction_log.dir)")
    parser.add_argument("--reference", help="a reference.json (default: the served model's, from the BentoML store)")
    parser.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    parser.add_argument("--since", help="the window starts here (ISO time with zone, e.g. 2026-12-05T10:00+00:00)")
    parser.add_argument("--last", type=int, help="the newest N faces (default: monitor.window_faces)")
    parser.add_argument("--out", default=str(REPORTS), help="report folder (default: %(default)s)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    args = vars(parser.parse_args(argv))
    if args["since"]:
        stamp = datetime.fromisoformat(args["since"])  # a ValueError is one line
        if stamp.tzinfo is None:
            raise UserError("--since needs a time zone (the log's times are UTC: add +00:00)")
    load_params(args["params"])
    # Inputs first: a wrong path is one line in a second, not a Prefect server start and a traceback.
    if not Path(args["log"]).is_dir():
        raise FileNotFoundError(f"{args['log']}: no such directory (the service's serve.prediction_log.dir)")
    if args["reference"]:
        read_reference(args["reference"])
    monitor_flow(**args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
