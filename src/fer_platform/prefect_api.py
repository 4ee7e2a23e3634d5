"""One real Prefect API for a whole run of stages, instead of a temporary server per stage process.

Every `python -m flows.*` process that finds PREFECT_API_URL unset starts Prefect's temporary server: 15-30 s on
2 cores, a dozen times per pipeline. `fer-platform run` (and the tests) start one `prefect server start` on
loopback instead and hand its URL to every stage. An API the user configured is always used as it is.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from fer_platform.errors import UserError

API_ENV = "PREFECT_API_URL"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prefect_executable() -> str:
    beside = Path(sys.executable).parent / "prefect"  # the project's venv, whether or not it is on PATH
    return str(beside) if beside.exists() else (shutil.which("prefect") or "prefect")


def _healthy(api: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api}/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


class PrefectServer:
    """`prefect server start` on 127.0.0.1:<free port> in its own process group, the UI off (an API only)."""

    def __init__(self, home: Path | None = None, log: Path | None = None):
        self.port = free_port()
        self.api = f"http://127.0.0.1:{self.port}/api"
        self.log = log or Path(tempfile.gettempdir()) / f"fer-prefect-server-{self.port}.log"
        self.env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_SERVER_UI_ENABLED": "false"}
        self.env.pop(API_ENV, None)
        if home is not None:
            home.mkdir(parents=True, exist_ok=True)
            self.env["PREFECT_HOME"] = str(home)
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> str:
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen(
                [_prefect_executable(), "server", "start", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise UserError(f"prefect server exited ({self.proc.returncode}); its log: {self.log}")
            if _healthy(self.api):
                return self.api
            time.sleep(0.3)
        self.stop()
        raise UserError(f"prefect server not ready in {timeout:.0f} s; its log: {self.log}")

    def stop(self, grace: float = 10) -> None:
        stop_group(self.proc, signal.SIGTERM, grace)


def stop_group(proc: subprocess.Popen | None, first: int, grace: float) -> None:
    """Stop a server started in its own session: `first` to its whole process group, SIGKILL after `grace` s."""
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, first)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@contextlib.contextmanager
def shared_prefect_api() -> Iterator[str]:
    """The API URL every stage of a run reports to: the configured one, else one server for the whole run
    (its flow runs land in PREFECT_HOME, as a temporary server's do)."""
    configured = os.environ.get(API_ENV)
    if configured:
        yield configured
        return
    server = PrefectServer()
    api = server.start()
    try:
        yield api
    finally:
        server.stop()
        server.log.unlink(missing_ok=True)
