"""Helpers shared by the benchmark scripts: where the data is, how results are recorded."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
DEFAULT_FER = REPO.parent / "shared" / "datasets" / "fer2013"


def machine() -> dict:
    return {"cpu": _cpu_model() or platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "python": platform.python_version(), "platform": platform.platform()}


def _cpu_model() -> str:
    """The CPU's name (one lent machine is an AMD EPYC, another an Intel Xeon: their numbers differ)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return ""
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "")


# Paths whose change does not change what a benchmark measures: results, their tables, prose, the tests.
NOT_CODE = (":!bench/results", ":!bench/README.md", ":!README.md", ":!RELIABILITY.md", ":!docs", ":!tests")


def git_commit() -> str:
    """HEAD, with `+dirty` when tracked code differs from it (the result is then of uncommitted code)."""
    try:
        def git(*args: str) -> str:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
        dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", *NOT_CODE)
        return git("rev-parse", "--short", "HEAD") + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_result(name: str, result: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    record = {"benchmark": name, "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "commit": git_commit(), "machine": machine(), **result}
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    return path
