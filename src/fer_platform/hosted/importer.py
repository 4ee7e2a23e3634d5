"""The import side (here): check returned results against this checkout, install finished checkpoints, and log
results whose weights stayed on the host straight to MLflow."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

from fer_platform import paths
from fer_platform.config import load_params
from fer_platform.data.dataset import load_dataset
from fer_platform.errors import UserError
from fer_platform.hosted.host import PREDICTIONS, RESULT
from fer_platform.io import write_json, write_with
from fer_platform.training.checkpoints import BEST, LAST, STATE, fingerprint, set_aside_before_install


class ResultsMismatch(UserError, ValueError):
    """Returned results do not match this checkout's params or data."""


def import_results(results: Path, params: str, dataset_path: Path) -> list[dict]:
    """Install returned weights as finished checkpoints; log weight-less results to MLflow directly."""
    loaded = load_params(params)
    dataset = load_dataset(dataset_path)
    tar_path = results / "results.tar.gz"
    if not tar_path.exists():
        raise ResultsMismatch(f"{tar_path}: missing (pass the folder the host's OUT was copied to)")
    unpacked = results / "unpacked"
    with tarfile.open(tar_path) as tar:
        tar.extractall(unpacked, filter="data")
    done = []
    for result_path in sorted(unpacked.glob(f"*/{RESULT}")):
        info = json.loads(result_path.read_text())
        arch = info["arch"]
        settings = loaded.train_settings(arch)
        if info["dataset_sha256"] != dataset.content_hash():
            raise ResultsMismatch(f"{arch}: trained on dataset {info['dataset_sha256'][:16]}, "
                                  f"this checkout has {dataset.content_hash()[:16]}")
        if info["fingerprint"] != fingerprint(settings, dataset):
            raise ResultsMismatch(f"{arch}: trained with other settings than params.yaml has now, or other "
                                  f"init_from / distill.teacher weights than they name now: "
                                  f"{json.dumps(info['settings'], sort_keys=True)}")
        state = json.loads((result_path.parent / "checkpoint" / STATE).read_text())
        state["trained_on"] = info["trained_on"]
        weights = results / f"{arch}.keras"
        if weights.exists() and not info["truncated_by_deadline"]:
            kept = _install_checkpoint(arch, weights, state)
            done.append({"arch": arch, "installed": str(paths.checkpoint_dir(arch)),
                         **({"kept": str(kept)} if kept else {})})
        else:
            # Here, not at the top: only this branch needs MLflow (and its start-up cost).
            from fer_platform.tracking.training_runs import log_hosted_results

            folder = result_path.parent
            run_id = log_hosted_results(arch, settings, info, state["history"],
                                        [folder / name for name in (RESULT, PREDICTIONS, "log.txt")])
            done.append({"arch": arch, "mlflow_run_id": run_id})
    return done


def _install_checkpoint(arch: str, weights: Path, state: dict) -> Path | None:
    """A finished run: best = last = the returned weights, so training resumes to "nothing left to do".
    A checkpoint already there (a local training) is set aside first, never overwritten; returns where."""
    ckpt = paths.checkpoint_dir(arch)
    ckpt.mkdir(parents=True, exist_ok=True)
    kept = set_aside_before_install(ckpt, state["fingerprint"])
    for name in (BEST, LAST):  # atomic: an interrupted import leaves no half-copied model
        write_with(ckpt / name, lambda tmp: shutil.copyfile(weights, tmp))
    state["mlflow_run_id"] = None  # logged afresh here
    write_json(ckpt / STATE, state)  # last: state never points at weights not yet in place
    return kept
