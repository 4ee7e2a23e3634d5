"""The documentation site (docs/, mkdocs.yml) builds in strict mode, and strict mode really catches a broken link
(`make test` builds it before pytest: a broken link, anchor or API reference fails the suite)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

MKDOCS = [sys.executable, "-m", "mkdocs", "build", "--strict"]  # not --quiet: it hides the warnings strict counts


def _copy(tmp_path: Path) -> Path:
    site = tmp_path / "project"
    for name in ("docs", "src", "release", "bench", "infra"):  # docs/ links into these (symlinks, includes)
        shutil.copytree(REPO / name, site / name, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__", ".cache", "*.onnx", "*.keras"))
    for name in ("mkdocs.yml", "RELIABILITY.md"):
        shutil.copy2(REPO / name, site / name)
    return site


def build(root: Path, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    return subprocess.run([*MKDOCS, "--site-dir", str(out)], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_docs_build_strict_and_a_broken_link_fails_them(tmp_path):
    root = _copy(tmp_path)
    built = build(root, tmp_path / "site")
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "site" / "reference" / "index.html").read_text().count("detect_emotions") >= 1
    assert (tmp_path / "site" / "assets" / "sample_annotated.jpg").stat().st_size > 10_000  # the picture resolves

    page = root / "docs" / "serving.md"
    page.write_text(page.read_text() + "\nSee [the old page](no-such-page.md).\n")
    broken = build(root, tmp_path / "site2")
    assert broken.returncode != 0 and "no-such-page.md" in broken.stderr, broken.stderr
