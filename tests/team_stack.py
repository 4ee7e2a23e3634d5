"""Real servers from installed packages, started on loopback by the tests: the team stack of docs/scaling-out.md
(Prefect server, PostgreSQL, an S3-compatible server, an MLflow tracking server). Nothing is downloaded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from fer_platform.prefect_api import free_port, stop_group  # noqa: F401 (free_port: re-exported for the tests)

BIN = Path(sys.executable).parent


class Background:
    """A server process in its own session (so the whole tree can be stopped), logging to `log`."""

    def __init__(self, name: str, cmd: list[str], log: Path, env: dict | None = None, cwd: Path | None = None,
                 stop_signal: int = signal.SIGTERM):
        self.name, self.cmd, self.log, self.env, self.cwd = name, cmd, log, env, cwd
        self.stop_signal = stop_signal
        self.proc: subprocess.Popen | None = None

    def start(self, ready: Callable[[], bool], timeout: float = 120) -> None:
        out = open(self.log, "a")  # noqa: SIM115 (the child owns it)
        self.proc = subprocess.Popen(self.cmd, env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}):\n{self.log.read_text()[-4000:]}")
            try:
                if ready():
                    return
            except (httpx.HTTPError, OSError):
                pass
            time.sleep(0.3)
        self.stop()
        raise AssertionError(f"{self.name} not ready in {timeout:.0f} s:\n{self.log.read_text()[-4000:]}")

    def stop(self, grace: float = 10) -> None:
        """`stop_signal` to the whole process group, then SIGKILL after `grace` seconds."""
        stop_group(self.proc, self.stop_signal, grace)


def http_ok(url: str) -> Callable[[], bool]:
    return lambda: httpx.get(url, timeout=2).status_code == 200


def postgres(data_dir: Path):
    """PostgreSQL 16 from the `pgserver` wheel (binaries inside the package), listening on a Unix socket in
    `data_dir`; returns the server handle (stopped by `.cleanup()`)."""
    import pgserver

    return pgserver.get_server(data_dir, cleanup_mode="stop")


def s3_server(log_dir: Path) -> tuple[Background, str]:
    """moto's S3-compatible server mode on loopback; returns (server, endpoint URL)."""
    port = free_port()
    server = Background("moto S3 server", [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                        log_dir / "moto.log")
    endpoint = f"http://127.0.0.1:{port}"
    server.start(http_ok(f"{endpoint}/moto-api/"))
    return server, endpoint


S3_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "team-test", "AWS_SECRET_ACCESS_KEY": "team-test-secret",
                  "AWS_DEFAULT_REGION": "us-east-1"}


def s3_client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                        region_name=S3_CREDENTIALS["AWS_DEFAULT_REGION"])


def mlflow_server(backend_uri: str, artifacts: str, s3_endpoint: str, log_dir: Path) -> tuple[Background, str]:
    """`mlflow server` with the given backend store and artifact destination; it proxies artifacts, so
    clients need only the tracking URI, never the S3 credentials."""
    port = free_port()
    # No job runner: its four huey consumers (~250 MB each, polling) serve GenAI features this project lacks.
    env = {**os.environ, **S3_CREDENTIALS, "MLFLOW_S3_ENDPOINT_URL": s3_endpoint,
           "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    env.pop("MLFLOW_TRACKING_URI", None)
    server = Background("mlflow server", [str(BIN / "mlflow"), "server", "--backend-store-uri", backend_uri,
                                          "--artifacts-destination", artifacts, "--host", "127.0.0.1",
                                          "--port", str(port), "--workers", "1"], log_dir / "mlflow.log", env)
    url = f"http://127.0.0.1:{port}"
    server.start(http_ok(f"{url}/health"), timeout=180)
    return server, url


class TeamStack:
    """PostgreSQL + an S3-compatible server + an MLflow tracking server on them: what docs/scaling-out.md
    deploys, on loopback. `tracking_uri` is what the pipeline gets as MLFLOW_TRACKING_URI."""

    MLFLOW_BUCKET, DVC_BUCKET = "fer-mlflow", "fer-dvc"

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.pg = self.s3 = self.mlflow = None

    def start(self) -> TeamStack:
        self.pg = postgres(self.root / "postgres")
        self.pg.psql("CREATE DATABASE mlflow;")
        self.s3, self.s3_endpoint = s3_server(self.root)
        client = s3_client(self.s3_endpoint)
        for bucket in (self.MLFLOW_BUCKET, self.DVC_BUCKET):
            client.create_bucket(Bucket=bucket)
        self.mlflow, self.tracking_uri = mlflow_server(self.backend_uri, f"s3://{self.MLFLOW_BUCKET}/artifacts",
                                                       self.s3_endpoint, self.root)
        return self

    @property
    def backend_uri(self) -> str:
        # pgserver listens on a Unix socket: postgresql://postgres:@/postgres?host=<dir>
        return self.pg.get_uri().replace("postgresql://", "postgresql+psycopg2://").replace("/postgres?", "/mlflow?")

    def query(self, sql: str) -> list[tuple]:
        """Rows straight from the MLflow database in PostgreSQL (not through MLflow)."""
        import psycopg2

        socket_dir = self.pg.get_uri().split("host=")[1]
        with psycopg2.connect(dbname="mlflow", user="postgres", host=socket_dir) as conn, conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()

    def objects(self, bucket: str, prefix: str = "") -> list[str]:
        """Every key in `bucket` under `prefix`, straight from the S3 server."""
        client, keys, token = s3_client(self.s3_endpoint), [], None
        while True:
            page = client.list_objects_v2(Bucket=bucket, Prefix=prefix,
                                          **({"ContinuationToken": token} if token else {}))
            keys += [o["Key"] for o in page.get("Contents", [])]
            token = page.get("NextContinuationToken")
            if not token:
                return keys

    def dvc_remote(self, project: Path, env: dict, name: str = "team") -> dict:
        """Add the S3 bucket as DVC remote `name` (local config: endpoint and credentials never committed);
        returns env with the credentials for dvc push/pull."""
        import subprocess

        for cmd in (["dvc", "remote", "add", "--local", "-f", name, f"s3://{self.DVC_BUCKET}/store"],
                    ["dvc", "remote", "modify", "--local", name, "endpointurl", self.s3_endpoint]):
            subprocess.run(cmd, cwd=project, env=env, check=True, capture_output=True)
        return {**env, **S3_CREDENTIALS}

    def stop(self) -> None:
        for server in (self.mlflow, self.s3):
            if server:
                server.stop()
        if self.pg:
            self.pg.cleanup()
