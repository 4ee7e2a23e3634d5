"""The host side (a lent GPU box with Python, Keras and JAX, but no MLflow, DVC or Prefect): train every
architecture in its own process against a wall-clock deadline, evaluate, bundle what comes back."""

from __future__ import annotations

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

from fer_platform.config import load_params
from fer_platform.data.dataset import load_dataset, save_dataset
from fer_platform.data.pack import unpack_image_folders
from fer_platform.data.readers import read_fer2013
from fer_platform.evaluation.evaluate import evaluate_model, metrics_summary
from fer_platform.io import write_json
from fer_platform.labels import REPORT, SELECTION
from fer_platform.models import load_model
from fer_platform.models.architectures import weights_only
from fer_platform.training.checkpoints import STATE
from fer_platform.training.fit import train_architecture

RESULT, WEIGHTS, PREDICTIONS = "result.json", "weights.keras", "predictions.npz"
MAX_RETURN_BYTES = 16 * 2**20  # the largest file the GPU host hands back


def train_one(arch: str, params: str, dataset_path: Path, work: Path, deadline: float) -> dict:
    """Train one architecture (resumable, no MLflow), evaluate its best epoch, write work/<arch>/."""
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
    state = json.loads((out / "checkpoint" / STATE).read_text())
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
    import keras  # start-up cost: only a training process pays for Keras

    desc = {"host": platform.node(), "backend": keras.backend.backend(), "keras": keras.__version__}
    if desc["backend"] == "jax":
        import jax  # only on a JAX host (this machine has TensorFlow, not JAX)

        desc["device"] = ", ".join(sorted({d.device_kind for d in jax.devices()}))
        desc["jax"] = jax.__version__
    else:
        desc["device"] = f"{platform.machine()} CPU ({os.cpu_count()} cores)"
    return desc


def _deadline_callback(deadline: float):
    """Stops training (after saving the epoch) when the next epoch would end past the deadline."""
    import keras  # start-up cost, as above

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
    t0 = time.time()
    deadline = t0 + deadline_s
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    dataset = dataset_from_pack(images_pack, work)
    print(f"dataset {dataset.content_hash()[:16]}: {len(dataset)} images in {time.time() - t0:.1f}s", flush=True)
    env = {**os.environ, "XLA_PYTHON_CLIENT_MEM_FRACTION": f"{min(0.9 / len(archs), 0.45):.2f}"}
    procs = {}
    for arch in archs:
        (work / arch).mkdir(parents=True, exist_ok=True)
        log = open(work / arch / "log.txt", "w")  # noqa: SIM115  (the child process owns it)
        procs[arch] = subprocess.Popen(
            [sys.executable, "-m", "fer_platform.hosted", "one", "--arch", arch, "--params", params,
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


def dataset_from_pack(images_pack: Path, work: Path):
    """Unpack and read the pack into work/dataset.npz, once: a second `train` on the same work folder and pack
    (plan_72.sh's student after its teachers) loads that file instead (~1 s, not ~11 s of its deadline)."""
    stamp, saved = work / "dataset.source", work / "dataset.npz"
    info = Path(images_pack).stat()
    key = f"{Path(images_pack).resolve()} {info.st_size} {info.st_mtime_ns}"
    if stamp.exists() and saved.exists() and stamp.read_text() == key:
        return load_dataset(saved)
    stamp.unlink(missing_ok=True)  # a run stopped half-way leaves no stamp behind
    unpack_image_folders(images_pack, work / "images")
    dataset = read_fer2013(work / "images")
    save_dataset(dataset, saved)
    stamp.write_text(key)
    return dataset


def _progress(arch_dir: Path) -> str:
    try:
        state = json.loads((arch_dir / "checkpoint" / STATE).read_text())
        best = state.get("best_publictest_accuracy", state.get("best_selection_accuracy"))
        return f"{arch_dir.name}:{state['epoch']}@{best:.3f}"
    except (OSError, ValueError, KeyError, TypeError):
        return f"{arch_dir.name}:-"


def bundle(archs: list[str], work: Path, out: Path, return_weights: list[str]) -> None:
    """results.tar.gz (results, histories, predictions, logs) + one <arch>.keras per returned model."""
    with tarfile.open(out / "results.tar.gz", "w:gz") as tar:
        for arch in archs:
            for name in (RESULT, PREDICTIONS, "log.txt", f"checkpoint/{STATE}"):
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


def soft_labels(archs: list[str], work: Path, out: Path, params: str, student: str) -> Path:
    """The mean probabilities of the trained `archs` (their best epochs, on this host) on the Training faces the
    `student` arch trains on: its distillation targets (`distill.teacher: <out>`), small enough to hand back."""
    from fer_platform.data.splits import recipe_splits
    from fer_platform.labels import TRAIN
    from fer_platform.models.ensemble import average_probabilities
    from fer_platform.training.distill import write_soft_labels

    members = [load_model(work / arch / WEIGHTS) for arch in archs]
    for arch, member in zip(archs, members, strict=True):
        member.name = arch  # distinct names inside the ensemble graph (two archs can share a builder)
    teacher = members[0] if len(members) == 1 else average_probabilities(members, name="teachers")
    settings = load_params(params).train_settings(student)
    images = recipe_splits(load_dataset(work / "dataset.npz"), settings)[TRAIN].images
    path = write_soft_labels(teacher, images, out)
    print(f"soft labels of {'+'.join(archs)} on {len(images)} Training faces -> {path}", flush=True)
    return path
