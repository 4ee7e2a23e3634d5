"""flows.pipeline's own wiring (the whole run is the deployment's; tests/flows/test_team_stack.py runs train)."""

import shutil

import pytest

from fer_platform.config import ConfigError, load_params
from tests.conftest import REPO


def test_a_profile_becomes_one_params_file_every_stage_reads(tmp_path, monkeypatch):
    shutil.copy2(REPO / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    from flows.pipeline import profile_params

    path = profile_params("params.yaml", "quick")
    params = load_params(path)
    assert path == "artifacts/pipeline/params.quick.yaml"
    for arch in params.architectures():  # train.common overrides reach the archs with their own values
        settings = params.train_settings(arch)
        assert settings.epochs == 3 and settings.max_train_per_class == 60 and settings.warmup_epochs == 0
    assert load_params("params.yaml").train_settings("vgg19").epochs == 10  # the original is untouched
    with pytest.raises(ConfigError, match="unknown profile 'nope'"):
        profile_params("params.yaml", "nope")
