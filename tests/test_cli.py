"""`fer-platform`: a params profile becomes `dvc exp run -S` overrides."""

import pytest

from fer_platform.cli import profile_overrides
from fer_platform.config import ConfigError
from tests.conftest import REPO


def test_quick_profile_becomes_dvc_set_overrides():
    overrides = profile_overrides("quick", str(REPO / "params.yaml"))
    assert "train.common.epochs=3" in overrides
    with pytest.raises(ConfigError, match="defines: quick"):
        profile_overrides("nope", str(REPO / "params.yaml"))


def test_a_run_puts_back_the_users_own_edits_and_heads_version_of_the_rest(tmp_path, monkeypatch):
    """#23.10: params.yaml edited by the user before `fer-platform run` gets that edit back, without the
    profile's -S values; a file only the experiment changed goes back to HEAD."""
    import subprocess

    from fer_platform.workspace import TrackedFilesSnapshot

    monkeypatch.chdir(tmp_path)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@localhost"]
    subprocess.run(git + ["init", "-q"], check=True)
    (tmp_path / "params.yaml").write_text("train:\n  epochs: 40\n")
    (tmp_path / "dvc.lock").write_text("schema: '2.0'\n")
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-qm", "recipe"], check=True)
    (tmp_path / "params.yaml").write_text("train:\n  epochs: 40\n  seed: 7\n")  # the user's own edit

    snapshot = TrackedFilesSnapshot()
    (tmp_path / "params.yaml").write_text("train:\n  epochs: 3\n  seed: 7\n")  # what `dvc exp run -S` leaves
    (tmp_path / "dvc.lock").write_text("schema: '2.0'\nstages: {}\n")
    assert snapshot.restore() == ["dvc.lock", "params.yaml"]
    assert (tmp_path / "params.yaml").read_text() == "train:\n  epochs: 40\n  seed: 7\n"
    assert (tmp_path / "dvc.lock").read_text() == "schema: '2.0'\n"
