"""Train recipes on a host that has only Python, Keras and an accelerator (a lent GPU box), then import here.

Such a host gets the working tree plus an image pack (`fer_platform.data.pack`), and returns a few files.
It has no MLflow, DVC or Prefect, so:

  train   (there) unpacks the images with the normal reader, trains each architecture of params.yaml in its own
          process with the same `train_architecture` code (tracking off, a wall-clock deadline), evaluates the
          selected epoch with the same evaluation code, and bundles results plus weights-only models into OUT.
  import  (here) checks that params.yaml and the dataset are the ones the host trained on (the checkpoint
          fingerprint), then installs returned weights as a finished checkpoint, so `dvc repro train@ARCH` logs
          the run (with every epoch) to MLflow and the pipeline evaluates and promotes it as usual. An
          architecture whose weights were too large to return is logged to MLflow from its results alone.

  python -m fer_platform.training.hosted train --images-pack PACK --out OUT --arch cnn --arch vgg19 ...
  python -m fer_platform.training.hosted import RESULTS_DIR
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np

from fer_platform import paths
from fer_platform.io import write_json
from fer_platform.labels import REPORT, SELECTION

RESULT, WEIGHTS, PREDICTIONS = "result.json", "weights.keras", "predictions.npz"
MAX_RETURN_BYTES = 16 * 2**20  # the largest file the GPU host hands back


# ---------------------------------------------------------------------------------------------- host side
def train_one(arch: str, params: str, dataset_path: Path, work: Path, deadline: float) -> dict:
    """Train one architecture (resumable, no MLflow), evaluate its best epoch, write work/<arch>/."""
    from fer_platform.config import load_params
    from fer_platform.data.dataset import load_dataset
    from fer_platform.evaluation.evaluate import evaluate_model, metrics_summary
    from fer_platform.models import load_model
    from fer_platform.training.fit import train_architecture, weights_only

    settings = load_params(params).train_settings(arch)
    dataset = load_dataset(dataset_path)
    out = work / arch
    stop = _deadline_callback(deadline)
    started = time.perf_counter()
    result = train_architecture(arch, settings, dataset, out / "checkpoint", out / "output", tracking=False,
                                extra_callbacks=(stop,))
    clean = weights_only(load_model(result.model_path), settings)
    clean.save(out / WEIGHTS)
    reports = evaluate_model(clean, dataset, settings)
    np.savez_compressed(out / PREDICTIONS, **{
        f"{split}_{name}": reports[split][key] for split in (SELECTION, REPORT)
        for name, key in (("probabilities", "_probabilities"), ("labels", "_true"))
    })
    state = json.loads((out / "checkpoint" / "state.json").read_text())
    info = {
        "arch": arch, "settings": settings.model_dump(), "fingerprint": state["fingerprint"],
        "dataset_sha256": dataset.content_hash(), "n_params": clean.count_params(),
        "epochs_planned": settings.epochs, "epochs_completed": state["epoch"], "best_epoch": state["best_epoch"],
        "truncated_by_deadline": state["epoch"] < settings.epochs,
        "train_seconds": round(state["train_seconds"], 1), "wall_seconds": round(time.perf_counter() - started, 1),
        "history": state["history"], "summary": metrics_summary(arch, reports), "trained_on": host_description(),
    }
    write_json(out / RESULT, info)
    return info


def host_description() -> dict:
    import keras

    desc = {"host": platform.node(), "backend": keras.backend.backend(), "keras": keras.__version__}
    if desc["backend"] == "jax":
        import jax

        desc["device"] = ", ".join(sorted({d.device_kind for d in jax.devices()}))
        desc["jax"] = jax.__version__
    else:
        desc["device"] = f"{platform.machine()} CPU ({os.cpu_count()} cores)"
    return desc


def _deadline_callback(deadline: float):
    """Stops training (after saving the epoch) when the next epoch would end past the deadline."""
    import keras

    class Deadline(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self._began = time.time()

        def on_epoch_end(self, epoch, logs=None):
            if time.time() + 1.2 * (time.time() - self._began) > deadline:
                print(f"deadline: stopping after epoch {epoch + 1}", flush=True)
                self.model.stop_training = True

    return Deadline()


def train_many(archs: list[str], params: str, images_pack: Path, work: Path, out: Path, deadline_s: float,
               return_weights: list[str], grace_s: float = 75.0) -> int:
    """Unpack once, train every arch in its own process at the same time, bundle what comes back."""
    from fer_platform.data.dataset import save_dataset
    from fer_platform.data.pack import unpack_image_folders
    from fer_platform.data.readers import read_fer2013

    t0 = time.time()
    deadline = t0 + deadline_s
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    unpack_image_folders(images_pack, work / "images")
    dataset = read_fer2013(work / "images")
    save_dataset(dataset, work / "dataset.npz")
    print(f"dataset {dataset.content_hash()[:16]}: {len(dataset)} images in {time.time() - t0:.1f}s", flush=True)
    env = {**os.environ, "XLA_PYTHON_CLIENT_MEM_FRACTION": f"{min(0.9 / len(archs), 0.45):.2f}"}
    procs = {}
    for arch in archs:
        (work / arch).mkdir(parents=True, exist_ok=True)
        log = open(work / arch / "log.txt", "w")  # noqa: SIM115  (the child process owns it)
        procs[arch] = subprocess.Popen(
            [sys.executable, "-m", "fer_platform.training.hosted", "one", "--arch", arch, "--params", params,
             "--dataset", str(work / "dataset.npz"), "--work", str(work), "--deadline", str(deadline)],
            stdout=log, stderr=subprocess.STDOUT, env=env)
    grace = deadline + grace_s  # evaluation and saving after the last epoch
    while any(p.poll() is None for p in procs.values()) and time.time() < grace:
        time.sleep(5)
        print(f"t={time.time() - t0:.0f}s " + " ".join(_progress(work / a) for a in archs), flush=True)
    for arch, proc in procs.items():
        if proc.poll() is None:
            proc.kill()
            print(f"{arch}: killed at the grace limit", flush=True)
    bundle(archs, work, out, return_weights)
    return 0 if all(p.returncode == 0 for p in procs.values()) else 1


def _progress(arch_dir: Path) -> str:
    try:
        state = json.loads((arch_dir / "checkpoint" / "state.json").read_text())
        return f"{arch_dir.name}:{state['epoch']}@{state['best_selection_accuracy']:.3f}"
    except (OSError, ValueError, KeyError):
        return f"{arch_dir.name}:-"


def bundle(archs: list[str], work: Path, out: Path, return_weights: list[str]) -> None:
    """results.tar.gz (results, histories, predictions, logs) + one <arch>.keras per returned model."""
    with tarfile.open(out / "results.tar.gz", "w:gz") as tar:
        for arch in archs:
            for name in (RESULT, PREDICTIONS, "log.txt", "checkpoint/state.json"):
                if (work / arch / name).exists():
                    tar.add(work / arch / name, arcname=f"{arch}/{name}")
    budget = 60 * 2**20 - (out / "results.tar.gz").stat().st_size
    for arch in return_weights:
        path = work / arch / WEIGHTS
        if path.exists() and path.stat().st_size <= min(MAX_RETURN_BYTES, budget):
            shutil.copyfile(path, out / f"{arch}.keras")
            budget -= path.stat().st_size
        elif path.exists():
            print(f"{arch}: weights ({path.stat().st_size / 2**20:.1f} MiB) stay on the host", flush=True)
    for arch in archs:
        if (work / arch / RESULT).exists():
            r = json.loads((work / arch / RESULT).read_text())
            print(f"{arch:16s} epochs {r['epochs_completed']}/{r['epochs_planned']} best {r['best_epoch']} "
                  f"PublicTest {r['summary']['publictest']['accuracy']:.4f} "
                  f"PrivateTest {r['summary']['privatetest']['accuracy']:.4f} train {r['train_seconds']:.0f}s",
                  flush=True)
        else:
            print(f"{arch:16s} no result (see {arch}/log.txt in results.tar.gz)", flush=True)


# ---------------------------------------------------------------------------------------------- here
class ResultsMismatch(ValueError):
    """Returned results do not match this checkout's params or data."""


def import_results(results: Path, params: str, dataset_path: Path) -> list[dict]:
    """Install returned weights as finished checkpoints; log weight-less results to MLflow directly."""
    from fer_platform.config import load_params
    from fer_platform.data.dataset import load_dataset
    from fer_platform.training.fit import fingerprint

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
            raise ResultsMismatch(f"{arch}: trained with other settings than params.yaml has now: "
                               f"{json.dumps(info['settings'], sort_keys=True)}")
        state = json.loads((result_path.parent / "checkpoint" / "state.json").read_text())
        state["trained_on"] = info["trained_on"]
        weights = results / f"{arch}.keras"
        if weights.exists() and not info["truncated_by_deadline"]:
            _install_checkpoint(arch, weights, state)
            done.append({"arch": arch, "installed": str(paths.checkpoint_dir(arch))})
        else:
            run_id = _log_results_only(arch, settings, info, state, result_path.parent)
            done.append({"arch": arch, "mlflow_run_id": run_id})
    return done


def _install_checkpoint(arch: str, weights: Path, state: dict) -> None:
    """A finished run: best = last = the returned weights, so training resumes to "nothing left to do"."""
    ckpt = paths.checkpoint_dir(arch)
    ckpt.mkdir(parents=True, exist_ok=True)
    for name in ("best.keras", "last.keras"):
        shutil.copyfile(weights, ckpt / name)
    state["mlflow_run_id"] = None  # logged afresh here
    write_json(ckpt / "state.json", state)


def _log_results_only(arch: str, settings, info: dict, state: dict, folder: Path) -> str:
    from fer_platform import tracking
    from fer_platform.evaluation.evaluate import log_evaluation_to_mlflow
    from fer_platform.training.fit import _backfill_mlflow, _flatten, trained_on_tags

    mlflow = tracking.configure()
    with mlflow.start_run(run_name=arch) as run:
        mlflow.set_tags({**tracking.lineage_tags(), "architecture": settings.architecture, "arch_key": arch,
                         "weights": "kept on the training host (too large to return)",
                         **trained_on_tags(info["trained_on"])})
        mlflow.log_params(_flatten("", settings.model_dump()))
        mlflow.log_params({"n_params": info["n_params"]})
        _backfill_mlflow(run.info.run_id, state["history"])  # a new run lacks every epoch
        mlflow.log_metrics({"best_epoch": info["best_epoch"], "epochs_completed": info["epochs_completed"],
                            "train_seconds": info["train_seconds"]})
        for name in (RESULT, PREDICTIONS, "log.txt"):
            if (folder / name).exists():
                mlflow.log_artifact(str(folder / name), artifact_path="hosted")
    log_evaluation_to_mlflow(run.info.run_id, info["summary"], {})  # final accuracy, macro-F1, recall
    return run.info.run_id


# ---------------------------------------------------------------------------------------------- CLI
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fer_platform.training.hosted", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="(on the host) train architectures in parallel processes")
    train.add_argument("--images-pack", type=Path, required=True)
    train.add_argument("--out", type=Path, required=True)
    train.add_argument("--work", type=Path, default=Path("/tmp/fer-hosted"))
    train.add_argument("--arch", action="append", required=True)
    train.add_argument("--return-weights", default="", help="comma-separated archs whose models come back")
    train.add_argument("--deadline-s", type=float, default=420.0, help="no epoch ends later than this")
    train.add_argument("--grace-s", type=float, default=75.0, help="then unfinished processes are killed")
    train.add_argument("--params", default="params.yaml")
    one = sub.add_parser("one", help=argparse.SUPPRESS)
    one.add_argument("--arch", required=True)
    one.add_argument("--params", default="params.yaml")
    one.add_argument("--dataset", type=Path, required=True)
    one.add_argument("--work", type=Path, required=True)
    one.add_argument("--deadline", type=float, required=True)
    imp = sub.add_parser("import", help="(here) install returned results for the pipeline and MLflow")
    imp.add_argument("results", type=Path)
    imp.add_argument("--params", default="params.yaml")
    imp.add_argument("--dataset", type=Path, default=paths.DATASET)
    args = parser.parse_args(argv)

    from fer_platform.config import ConfigError, load_params
    from fer_platform.data.dataset import DataError

    try:
        if args.command == "train":
            known = load_params(args.params).architectures()
            unknown = sorted(set(args.arch) - set(known))
            if unknown:
                parser.error(f"unknown --arch {unknown}; params.yaml has: {', '.join(known)}")
            return train_many(args.arch, args.params, args.images_pack, args.work, args.out, args.deadline_s,
                              [a for a in args.return_weights.split(",") if a], args.grace_s)
        if args.command == "one":
            train_one(args.arch, args.params, args.dataset, args.work, args.deadline)
            return 0
        for item in import_results(args.results, args.params, args.dataset):
            print(json.dumps(item))
        return 0
    except (ConfigError, DataError, ResultsMismatch) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
