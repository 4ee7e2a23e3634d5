"""Package the MLflow `champion` as a BentoML model and bento (serving then needs no MLflow)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from prefect import flow, task

from fer_platform import paths
from fer_platform.cli import run_stage
from fer_platform.config import load_params
from fer_platform.data.dataset import load_dataset
from fer_platform.io import write_json
from fer_platform.release import ONNX_FILE, ONNX_PARITY_FILE, RELEASE_DIR
from fer_platform.packaging.onnx_export import parity_faces
from fer_platform.packaging.bento import build_bento, import_from_registry
from fer_platform.packaging.reference import REFERENCE_SPLIT, reference_faces


@task(name="import-champion")
def import_task(registered_model: str, dataset: str, n_reference: int) -> dict:
    data = load_dataset(dataset)
    return import_from_registry(registered_model, parity_faces(data), exported=_release_export(),
                                reference_faces=reference_faces(data.split(REFERENCE_SPLIT).images, n_reference))


def _release_export() -> tuple[Path, dict] | None:
    """The committed release's ONNX graph and its parity record (a champion that is the release, as after
    `make run`, needs no second export, nor a second check under the same runtimes)."""
    try:
        record = json.loads((RELEASE_DIR / ONNX_PARITY_FILE).read_text())
    except (OSError, ValueError):
        return None
    return (RELEASE_DIR / ONNX_FILE, record) if isinstance(record, dict) else None


@task(name="build-bento", retries=1)
def build_task() -> str:
    # The bento installs the project from its wheel; build it from this checkout first, into a folder of its
    # own (one wheel, whatever pyproject's version is) inside the project (BentoML takes no wheel outside it).
    venv_uv = Path(sys.executable).with_name("uv")
    uv = str(venv_uv) if venv_uv.exists() else shutil.which("uv") or "uv"
    Path("dist").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="wheel-", dir="dist") as dist:
        subprocess.run([uv, "build", "--wheel", "--out-dir", dist, "--quiet"], check=True)
        (wheel,) = Path(dist).glob("fer_platform-*.whl")
        return build_bento(wheel, "bentofile.yaml")


@flow(name="package", log_prints=True)
def package_flow(params: str = "params.yaml", build: bool = True, dataset: str = str(paths.DATASET)) -> dict:
    """Export models:/<registered_model>@champion to ONNX (parity-checked against Keras on PrivateTest faces),
    import it into the BentoML store with its reference distribution (its answers on PublicTest faces, for the
    monitor flow); build the bento."""
    loaded = load_params(params)
    info = import_task(loaded.promote.registered_model, dataset, loaded.monitor.reference_faces)
    if build:
        info["bento"] = build_task()
    write_json(paths.BENTO_INFO, info)
    print(f"BentoML model {info['bento_model']} (registry version {info['version']}, ONNX max |diff| "
          f"{info['parity']['max_abs_diff']:.1e} on {info['parity']['faces']} PrivateTest faces"
          + (", the release export's report: same provenance)" if info["parity"].get("reused") else ")")
          + (f", bento {info['bento']}" if build else ""))
    return info


def main(argv: list[str] | None = None) -> int:
    return run_stage("package", package_flow, argv, _options, lambda args, params: [
        (args["dataset"], "its PrivateTest faces check the ONNX export: dvc repro ingest")])


def _options(parser) -> None:
    parser.add_argument("--no-build", dest="build", action="store_false",
                        help="only import the model (skip `bentoml build`)")
    parser.add_argument("--dataset", default=str(paths.DATASET),
                        help="canonical dataset whose PrivateTest faces check the export (default: %(default)s)")


if __name__ == "__main__":
    raise SystemExit(main())
