"""Train architectures from params.yaml (one, several, or all), each a Prefect task with retries, on the
configured task runner: threads here, or a Dask cluster (`pipeline.task_runner`)."""

from __future__ import annotations

import os
import socket

from prefect import flow, task
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from fer_platform import paths
from fer_platform.cli import arch_option, run_stage, user_errors
from fer_platform.config import PipelineSettings, load_params
from fer_platform.data.dataset import load_dataset
from fer_platform.models.architectures import check_recipes
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
            "run_id": result.run_id, "host": socket.gethostname(), "pid": os.getpid()}


def training_task_runner(pipeline: PipelineSettings) -> TaskRunner:
    """Threads in this process, or Dask. Dask workers run the task from the same project directory: on a
    LocalCluster that is this one; on a remote cluster, a checkout with the dataset at the same path."""
    if pipeline.task_runner == "threads":
        return ThreadPoolTaskRunner(max_workers=pipeline.train_workers)
    from prefect_dask import DaskTaskRunner  # Here, not at the top: Dask takes a second to import.

    address = pipeline.dask_address or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address:
        return DaskTaskRunner(address=address)
    # One thread per worker process: each training already uses every core TensorFlow gives it.
    return DaskTaskRunner(cluster_class="distributed.LocalCluster",
                          cluster_kwargs={"n_workers": pipeline.train_workers, "threads_per_worker": 1,
                                          "processes": True, "dashboard_address": None})


@flow(name="train", log_prints=True)
def train_flow(params: str = "params.yaml", arch: list[str] | None = None) -> list[dict]:
    """Train the given architectures (default: all in params.yaml) under the configured task runner."""
    loaded = load_params(params)
    check_recipes(loaded, params)  # an unknown architecture or builder argument fails before anything trains
    archs = arch or loaded.architectures()
    for name in archs:
        loaded.train_settings(name)
    runner_task = train_task.with_options(retries=loaded.pipeline.task_retries,
                                          retry_delay_seconds=loaded.pipeline.retry_delay_seconds)
    if len(archs) > 1 and loaded.pipeline.train_workers > 1:
        # Trainings started at once raced to create a new SQLite store's tables (alembic): create store and
        # experiment here first. Imported here: MLflow takes seconds to import.
        from fer_platform.tracking.store import configure

        configure()
    with training_task_runner(loaded.pipeline) as runner:
        futures = [runner.submit(runner_task, {"arch": name, "params": params}) for name in archs]
        results = [f.result() for f in futures]
    print(f"train flow: pid {os.getpid()} on {socket.gethostname()}, task runner {loaded.pipeline.task_runner}")
    for r in results:
        print(f"{r['arch']}: best epoch {r['best_epoch']}, PublicTest accuracy {r['best_publictest_accuracy']:.4f} "
              f"(trained by pid {r['pid']} on {r['host']})")
    return results


def main(argv: list[str] | None = None) -> int:
    return run_stage("train", train_flow, argv, arch_option,
                     lambda args, params: [(paths.DATASET, "run the ingest stage first: dvc repro ingest")])


if __name__ == "__main__":
    raise SystemExit(main())
