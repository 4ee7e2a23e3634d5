"""The README's first screen (#25): after `make run`, `make demo` starts the service in the background, labels
the shipped sample photo through it and says where everything is; a second `make demo` uses the running
service; `make stop` stops it. Run with the Makefile on the release project (what `make run` leaves: the release
as the served champion)."""

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.quick_project import _own_home
from tests.team_stack import free_port

pytestmark = pytest.mark.slow


def test_make_demo_labels_the_sample_photo_through_a_service_it_starts_and_make_stop_stops_it(release_project):
    root, env = release_project
    port = free_port()
    env = {**env, "BENTOML_HOME": str(_own_home(Path(env["BENTOML_HOME"]), port))}  # the release server's /metrics
    make = ["make", "--no-print-directory", "-f", str(REPO / "Makefile"), "-C", str(root), "-o", "setup",
            f"SERVICE_PORT={port}"]
    try:
        first = subprocess.run([*make, "demo"], env=env, capture_output=True, text=True, check=False, timeout=300)
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
        assert "starting bentoml serve in the background" in first.stdout
        assert "annotated: outputs/sample_annotated.jpg" in first.stdout and f"127.0.0.1:{port}" in first.stdout
        (record,) = [json.loads(line) for line in (root / "outputs" / "sample.jsonl").read_text().splitlines()]
        assert record["classified"] and len(record["faces"]) == 3  # the sample's three faces, each labelled
        assert all(face["label"] for face in record["faces"]), record
        assert (root / "outputs" / "sample_annotated.jpg").stat().st_size > 10_000
        again = subprocess.run([*make, "demo"], env=env, capture_output=True, text=True, check=False, timeout=120)
        assert again.returncode == 0 and "starting bentoml serve" not in again.stdout, again.stdout[-2000:]
    finally:
        stop = subprocess.run([*make, "stop"], env=env, capture_output=True, text=True, check=False, timeout=60)
    assert stop.returncode == 0 and "stopped" in stop.stdout, stop.stdout + stop.stderr
    down = subprocess.run([*make, "stop"], env=env, capture_output=True, text=True, check=False, timeout=60)
    assert "no service started by make demo is running" in down.stdout
