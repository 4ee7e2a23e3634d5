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


def test_profile_write_gives_a_params_file_with_the_profile_applied(tmp_path, capsys):
    """What `flows.train --params FILE --arch resnet_compact_robust` reads: params.yaml plus the robust profile,
    valid, with the added arch warm-started from the release member and the camera augmentation on."""
    from fer_platform.cli import main
    from fer_platform.config import load_params

    out = tmp_path / "robust.yaml"
    assert main(["profile", "robust", "--params", str(REPO / "params.yaml"), "--write", str(out)]) == 0
    settings = load_params(out).train_settings("resnet_compact_robust")
    assert settings.init_from.endswith("gpu_h100_2026-11-28_resnet_compact/model.keras") and settings.epochs == 3
    assert settings.augment.blur == 0.3 and settings.augment.flip  # the recipe's own framing options stay
    assert load_params(out).train_settings("resnet32") == load_params(REPO / "params.yaml").train_settings("resnet32")
    assert main(["profile", "nope", "--params", str(REPO / "params.yaml"), "--write", str(out)]) == 1
    assert "unknown profile 'nope'" in capsys.readouterr().err
    # A profile that makes the params invalid is one line naming the key, and nothing is written.
    import yaml

    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["profiles"]["broken"] = {"train.common.epochs": -1}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    bad = tmp_path / "bad.yaml"
    assert main(["profile", "broken", "--params", str(tmp_path / "params.yaml"), "--write", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "profile 'broken'" in err and "epochs" in err and "Traceback" not in err and not bad.exists()
    assert list(tmp_path.glob(".bad.yaml*")) == []
    assert main(["profile", "robust", "--params", str(tmp_path / "params.yaml"),
                 "--write", str(tmp_path / "params.yaml")]) == 1  # never over the params file itself
    assert "is the params file itself" in capsys.readouterr().err


def test_wait_ready_gives_up_at_once_when_the_server_it_waits_for_exits():
    """`make demo` starts `bentoml serve` and waits for /readyz; a server that dies at start-up (no model in the
    store) ends the wait at once, not after the timeout."""
    import subprocess
    import sys
    import time

    from fer_platform.cli import main

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    started = time.monotonic()
    assert main(["wait-ready", "--url", "http://127.0.0.1:9", "--timeout", "30", "--pid", str(gone.pid)]) == 1
    assert time.monotonic() - started < 5
    assert main(["wait-ready", "--url", "http://127.0.0.1:9", "--timeout", "0"]) == 1  # nothing there: no wait


def test_tensorflow_start_up_lines_are_hidden_unless_verbose():
    """#25.6: every stage and `fer-platform run` hide TensorFlow's start-up lines unless --verbose; a
    TF_CPP_MIN_LOG_LEVEL the user set wins."""
    from fer_platform.cli import quiet_libraries

    quiet, verbose, own = {}, {}, {"TF_CPP_MIN_LOG_LEVEL": "0"}
    quiet_libraries(quiet, verbose=False)
    quiet_libraries(verbose, verbose=True)
    quiet_libraries(own, verbose=False)
    assert quiet == {"TF_CPP_MIN_LOG_LEVEL": "2"} and own == {"TF_CPP_MIN_LOG_LEVEL": "0"}
    assert verbose == {"TF_CPP_MIN_LOG_LEVEL": "0"}  # kept by the stages it starts, which quiet only what is unset
    quiet_libraries(verbose, verbose=False)  # a stage without --verbose under `fer-platform run --verbose`
    assert verbose == {"TF_CPP_MIN_LOG_LEVEL": "0"}
