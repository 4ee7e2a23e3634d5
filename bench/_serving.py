"""A served release for the benchmarks: the committed release model, bootstrapped into a scratch MLflow
registry, exported by the real package stage (ONNX, parity-checked) and served by a real `bentoml serve`."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from _common import DEFAULT_FER, REPO

HOME = REPO / "bench" / ".cache" / "serving"


def environment() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "BENTOML_HOME": str(HOME / "bentoml_home"),
            "MLFLOW_TRACKING_URI": f"sqlite:///{HOME / 'mlflow.db'}", "TF_CPP_MIN_LOG_LEVEL": "3",
            "FER_PARAMS": str(REPO / "params.yaml")}


def prepare(fer: Path = DEFAULT_FER) -> dict:
    """Ingest (once), bootstrap the release as champion and package it: the model store the server loads."""
    HOME.mkdir(parents=True, exist_ok=True)
    env = environment()
    shutil.copy2(REPO / "params.yaml", HOME / "params.yaml")
    if not (HOME / "release").exists():
        (HOME / "release").symlink_to(REPO / "release")
    steps = [["-m", "flows.bootstrap"], ["-m", "flows.package", "--no-build"]]
    if not (HOME / "artifacts/dataset/fer2013.npz").exists():
        steps.insert(0, ["-m", "flows.ingest", "--source", str(fer)])
    for step in steps:
        subprocess.run([sys.executable, *step], cwd=HOME, env=env, check=True, capture_output=True)
    return env


class Server:
    def __init__(self, env: dict, bentoml_bin: str | None = None):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.env, self.url, self.proc = env, f"http://127.0.0.1:{self.port}", None
        self.bentoml = bentoml_bin or str(Path(sys.executable).with_name("bentoml"))

    def start(self, timeout: float = 180) -> float:
        """Start `bentoml serve` from the project root; seconds until /readyz answered 200."""
        began = time.perf_counter()
        log = open(HOME / "serve.log", "a")  # noqa: SIM115  (the server owns it)
        self.proc = subprocess.Popen([self.bentoml, "serve", "--host", "127.0.0.1", "--port", str(self.port)], cwd=REPO,
                                     env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        while time.perf_counter() - began < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"bentoml serve exited; see {HOME / 'serve.log'}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return time.perf_counter() - began
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("bentoml serve not ready in time")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
