"""Package the MLflow `champion` as a BentoML model and bento (serving then needs no MLflow)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from prefect import flow, task

from fer_platform import paths
from fer_platform.cli import run_stage
from fer_platform.config import load_params
from fer_platform.io import write_json
from fer_platform.serving.packaging import build_bento, import_from_registry


@task(name="import-champion")
def import_task(registered_model: str) -> dict:
    return import_from_registry(registered_model)


@task(name="build-bento", retries=1)
def build_task() -> str:
    # The bento installs the project from its wheel; build it from this checkout first.
    venv_uv = Path(sys.executable).with_name("uv")
    uv = str(venv_uv) if venv_uv.exists() else shutil.which("uv") or "uv"
    subprocess.run([uv, "build", "--wheel", "--out-dir", "dist", "--quiet"], check=True)
    return build_bento("bentofile.yaml")


@flow(name="package", log_prints=True)
def package_flow(params: str = "params.yaml", build: bool = True) -> dict:
    """Import models:/<registered_model>@champion into the BentoML store; build the bento."""
    info = import_task(load_params(params).promote.registered_model)
    if build:
        info["bento"] = build_task()
    write_json(paths.BENTO_INFO, info)
    print(f"BentoML model {info['bento_model']} (registry version {info['version']})"
          + (f", bento {info['bento']}" if build else ""))
    return info


def main(argv: list[str] | None = None) -> int:
    return run_stage("package", package_flow, argv, lambda p: p.add_argument(
        "--no-build", dest="build", action="store_false", help="only import the model (skip `bentoml build`)"))


if __name__ == "__main__":
    raise SystemExit(main())
