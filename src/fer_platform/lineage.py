"""Which data and code a result was made from: the DVC hash of data.dvc and the git commit (run tags, cards)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml


def lineage_tags() -> dict[str, str]:
    """The data version (DVC hash in data.dvc) and code version (git commit) a run was made from."""
    tags = {"data.dvc_md5": _dvc_data_hash(), "git.commit": _git("rev-parse", "HEAD")}
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    tags["git.dirty"] = "unknown" if dirty == "unknown" else str(bool(dirty)).lower()
    return tags


def _dvc_data_hash() -> str:
    try:
        outs = yaml.safe_load(Path("data.dvc").read_text())["outs"]
        return str(outs[0]["md5"])
    except (OSError, KeyError, IndexError, TypeError, yaml.YAMLError):
        return "unknown"


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
