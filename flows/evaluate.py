"""Evaluate trained architectures on PublicTest and PrivateTest (and the field split, when it holds faces); write
DVC metrics/plots; log to MLflow."""

from __future__ import annotations

import json

from prefect import flow, task

from fer_platform import paths
from fer_platform.cli import arch_option, run_stage
from fer_platform.config import load_params
from fer_platform.data.dataset import load_dataset
from fer_platform.data.field import load_field
from fer_platform.evaluation.evaluate import evaluate_model, field_report, metrics_summary, write_evaluation
from fer_platform.evaluation.in_frame import load_searches
from fer_platform.models import load_model


@task(name="evaluate-architecture")
def evaluate_task(arch: str, params: str) -> dict:
    loaded = load_params(params)
    settings = loaded.train_settings(arch)
    model_dir = paths.model_dir(arch)
    if not (model_dir / "model.keras").exists():
        raise FileNotFoundError(f"{model_dir / 'model.keras'}: not trained yet (run the train stage)")
    model = load_model(model_dir / "model.keras")
    reports = evaluate_model(model, load_dataset(paths.DATASET), settings, load_searches(paths.IN_FRAME),
                             loaded.evaluate.robustness_faces)
    field = field_report(model, load_field(paths.FIELD))
    history = json.loads((model_dir / "history.json").read_text())
    files = write_evaluation(arch, reports, history, paths.METRICS_DIR / f"{arch}.json", paths.PLOTS_DIR / arch,
                             field)
    summary = metrics_summary(arch, reports, field)
    run = json.loads((model_dir / "run.json").read_text())
    if run.get("run_id"):
        # Here, not at the top: MLflow and Keras take ~12 s to import; a wrong argument fails before that.
        from fer_platform.tracking.training_runs import log_evaluation

        log_evaluation(run["run_id"], summary, files)
    return summary


@flow(name="evaluate", log_prints=True)
def evaluate_flow(params: str = "params.yaml", arch: list[str] | None = None) -> list[dict]:
    """Evaluate the given architectures (default: all in params.yaml)."""
    summaries = [evaluate_task(name, params) for name in arch or load_params(params).architectures()]
    for s in summaries:
        report = s["privatetest"]
        print(f"{s['arch']}: PublicTest {s['publictest']['accuracy']:.4f}, PrivateTest {report['accuracy']:.4f} "
              f"(macro-F1 {report['macro_f1']:.4f}; robustness mean {report['robustness_mean']:.4f}; in frames: "
              f"{report['pipeline_detection_rate']:.0%} found, {report['pipeline_accuracy']:.4f} of those right)"
              + (f"; field faces {s['field']['accuracy']:.4f} on {s['field']['n']}" if "field" in s else ""))
    return summaries


def main(argv: list[str] | None = None) -> int:
    return run_stage("evaluate", evaluate_flow, argv, arch_option,
                     lambda args, params: [(paths.DATASET, "run the ingest stage first: dvc repro ingest"),
                                           (paths.IN_FRAME, "run the in_frame stage first: dvc repro in_frame")])


if __name__ == "__main__":
    raise SystemExit(main())
