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
