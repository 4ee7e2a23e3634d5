"""Train architectures from params.yaml (one, several, or all), each a Prefect task with retries."""

from __future__ import annotations

from prefect import flow, task
from prefect.task_runners import ThreadPoolTaskRunner

from fer_platform import paths
from fer_platform.cli import arch_option, run_stage, user_errors
from fer_platform.config import load_params
from fer_platform.data.dataset import load_dataset
from fer_platform.training.fit import train_architecture


def _transient(task, task_run, state) -> bool:
    """Retry only what a retry can fix: not bad data, bad params or missing inputs."""
    try:
        state.result()
    except user_errors():
        return False
    except Exception:
        return True
    return False


@task(name="train-architecture", retry_condition_fn=_transient)
def train_task(arch: str, params: str) -> dict:
    settings = load_params(params).train_settings(arch)
    result = train_architecture(arch, settings, load_dataset(paths.DATASET), paths.checkpoint_dir(arch),
                                paths.model_dir(arch))
    return {"arch": arch, "best_epoch": result.best_epoch, "best_publictest_accuracy": result.best_publictest_accuracy,
            "run_id": result.run_id}


@flow(name="train", log_prints=True)
def train_flow(params: str = "params.yaml", arch: list[str] | None = None) -> list[dict]:
    """Train the given architectures (default: all in params.yaml) under the configured task runner."""
    loaded = load_params(params)
    archs = arch or loaded.architectures()
    for name in archs:
        loaded.train_settings(name)  # unknown names fail before anything trains
    runner_task = train_task.with_options(retries=loaded.pipeline.task_retries,
                                          retry_delay_seconds=loaded.pipeline.retry_delay_seconds)
    with ThreadPoolTaskRunner(max_workers=loaded.pipeline.train_workers) as runner:
        futures = [runner.submit(runner_task, {"arch": name, "params": params}) for name in archs]
        results = [f.result() for f in futures]
    for r in results:
        print(f"{r['arch']}: best epoch {r['best_epoch']}, PublicTest accuracy {r['best_publictest_accuracy']:.4f}")
    return results


def main(argv: list[str] | None = None) -> int:
    return run_stage("train", train_flow, argv, arch_option,
                     lambda args, params: [(paths.DATASET, "run the ingest stage first: dvc repro ingest")])


if __name__ == "__main__":
    raise SystemExit(main())
