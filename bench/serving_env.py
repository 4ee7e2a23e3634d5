"""What the bento installs, measured: a fresh virtual env with exactly infra/bento/requirements.txt and the
project wheel (both --no-deps, as bentofile.yaml installs them), its size against the full project env, and
proof that the service starts and answers from it (no TensorFlow, Keras, MLflow, DVC, Prefect or GX in it).

    python bench/serving_env.py      # needs the package registry (PyPI) for the first install
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DEFAULT_FER, REPO, write_result
from _serving import HOME, Server, prepare

ENV = REPO / "bench" / ".cache" / "serving_env"
TRAINING_STACK = ("tensorflow", "keras", "mlflow", "dvc", "prefect", "great_expectations", "tf2onnx")


def size_mb(site: Path) -> float:
    return round(sum(p.stat().st_size for p in site.rglob("*") if p.is_file()) / 1e6, 1)


def main() -> int:
    uv = str(Path(sys.executable).with_name("uv"))
    env_vars = prepare()  # the model store the server loads
    shutil.rmtree(ENV, ignore_errors=True)
    wheels = ENV.parent / "wheel"
    subprocess.run([uv, "build", "-q", "--wheel", "--out-dir", str(wheels)], cwd=REPO, check=True)
    subprocess.run([uv, "venv", "-q", "-p", "3.11", str(ENV)], check=True)
    install = {**os.environ, "VIRTUAL_ENV": str(ENV)}
    subprocess.run([uv, "pip", "install", "-q", "--no-deps", "-r", str(REPO / "infra/bento/requirements.txt")],
                   env=install, check=True)
    subprocess.run([uv, "pip", "install", "-q", "--no-deps", *map(str, wheels.glob("fer_platform-*.whl"))],
                   env=install, check=True)
    site = next(ENV.glob("lib/python*/site-packages"))
    full_site = next(Path(sys.prefix).glob("lib/python*/site-packages"))
    installed = sorted(p.name.lower() for p in site.iterdir())
    result = {"serving_env_mb": size_mb(site), "full_project_env_mb": size_mb(full_site),
              "training_stack_in_serving_env": [m for m in TRAINING_STACK if any(n.startswith(m) for n in installed)]}
    server = Server({**env_vars, "PATH": f"{ENV / 'bin'}:{env_vars['PATH']}", "VIRTUAL_ENV": str(ENV),
                     "PYTHONPATH": ""}, bentoml_bin=str(ENV / "bin" / "bentoml"))
    result["readyz_s"] = round(server.start(), 2)
    try:
        face = open(DEFAULT_FER / "test/happy/PrivateTest_10077120.jpg", "rb").read()  # noqa: SIM115
        import cv2
        import numpy as np

        pixels = cv2.imdecode(np.frombuffer(face, np.uint8), cv2.IMREAD_GRAYSCALE)
        r = httpx.post(f"{server.url}/predict", json={"faces_b64": base64.b64encode(pixels.tobytes()).decode()})
        result["predict_status"], result["label"] = r.status_code, r.json()["faces"][0]["label"]
    finally:
        server.stop()
    result["server_log"] = str(HOME.relative_to(REPO) / "serve.log")
    write_result("serving_env", result)
    return 0 if result["predict_status"] == 200 and not result["training_stack_in_serving_env"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
