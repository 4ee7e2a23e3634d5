"""Checkpoints of different settings never destroy each other; an unreadable one is kept, not wiped."""

import json

from fer_platform.training.checkpoints import BEST, LAST, STATE, SUPERSEDED, load_state
from tests.conftest import REPO


def _checkpoint(directory, fp: str, epoch: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in (LAST, BEST):
        (directory / name).write_bytes(f"weights of {fp} at epoch {epoch}".encode())
    (directory / STATE).write_text(json.dumps({"fingerprint": fp, "epoch": epoch, "best_epoch": epoch,
                                               "best_publictest_accuracy": 0.5, "history": [],
                                               "mlflow_run_id": None, "train_seconds": 1.0}))


def test_the_quick_profile_keeps_the_full_recipe_checkpoint_and_the_full_recipe_resumes_from_it(tmp_path):
    ckpt = tmp_path / "checkpoints/cnn"
    _checkpoint(ckpt, "full", epoch=7)  # an interrupted full-recipe training
    quick = load_state(ckpt, "quick")  # `make run` trains the quick profile in the same directory
    assert quick["epoch"] == 0 and not (ckpt / LAST).exists()
    assert (ckpt / SUPERSEDED / "full" / LAST).read_bytes() == b"weights of full at epoch 7"
    _checkpoint(ckpt, "quick", epoch=3)  # the quick training runs to its end
    full = load_state(ckpt, "full")  # `dvc repro` again: the full recipe
    assert full["epoch"] == 7 and (ckpt / LAST).read_bytes() == b"weights of full at epoch 7"
    assert (ckpt / SUPERSEDED / "quick" / STATE).exists()  # and the quick one is kept in turn
    assert load_state(ckpt, "full")["epoch"] == 7  # resuming is stable


def test_an_unreadable_state_file_is_kept_for_a_person_not_wiped(tmp_path):
    ckpt = tmp_path / "checkpoints/cnn"
    _checkpoint(ckpt, "full", epoch=4)
    (ckpt / STATE).write_text("{ truncated")
    state = load_state(ckpt, "full")
    assert state["epoch"] == 0
    (kept,) = (ckpt / SUPERSEDED).iterdir()
    assert kept.name.startswith("unreadable-") and (kept / LAST).read_bytes() == b"weights of full at epoch 4"


def test_options_added_later_leave_existing_fingerprints_alone():
    """The settings part of the fingerprint of every committed recipe, as computed before step/plateau
    schedules and random erasing existed: an interrupted full-recipe checkpoint still resumes."""
    import hashlib

    from fer_platform.config import load_params
    from fer_platform.training.checkpoints import settings_identity
    from tests.conftest import REPO

    before = {"cnn": "ddeb4402407e0bd5", "vgg19": "4f049075351fa842", "resnet32": "20c93435ba854d82",
              "resnet_compact": "135a020b6e2c4ce1"}
    params = load_params(REPO / "params.yaml")
    for arch, expected in before.items():
        settings = params.train_settings(arch)
        assert hashlib.sha256(settings_identity(settings).encode()).hexdigest()[:16] == expected, arch
        changed = settings.model_copy(update={"schedule": "plateau", "warmup_epochs": 0, "plateau_patience": 3})
        assert settings_identity(changed) != settings_identity(settings)


def test_changing_epochs_is_a_new_recipe_as_the_readme_says():
    """#23.12: more `epochs` do not resume (the schedule is planned over them): another fingerprint, so the
    finished checkpoint is set aside (superseded/<fingerprint>/) and the new recipe trains from scratch."""
    from fer_platform.training.checkpoints import settings_identity
    from tests.training.recipes import small_cnn

    assert settings_identity(small_cnn(3)) != settings_identity(small_cnn(4))
    docs = (REPO / "docs" / "scaling-out.md").read_text()  # where the README's detail moved
    assert "more `epochs` resume" not in docs and "Changing `epochs` is a new recipe" in docs
