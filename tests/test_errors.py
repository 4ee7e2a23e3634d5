"""One error type for user mistakes and one way to print it (#23 structure): every error a user can fix is a
UserError, and every entry point reports one through errors.report (one line, exit 1)."""

import re

from fer_platform.config import ConfigError
from fer_platform.data.dataset import DataError
from fer_platform.errors import InvalidArgument, UserError, report
from fer_platform.hosted.importer import ResultsMismatch
from fer_platform.models.architectures import UnknownArchitecture
from fer_platform.serving.errors import RequestError
from fer_platform.training.checkpoints import TrainingDiverged
from tests.conftest import REPO


def test_every_user_error_is_a_user_error():
    for error in (ConfigError, DataError, ResultsMismatch, UnknownArchitecture, RequestError, InvalidArgument,
                  TrainingDiverged):
        assert issubclass(error, UserError), error


def test_a_user_error_is_one_line_and_exit_1(capsys):
    assert report("train", ConfigError("params.yaml:3: train.comon: unknown key")) == 1
    assert capsys.readouterr().err == "train: error: params.yaml:3: train.comon: unknown key\n"


def test_no_entry_point_prints_its_own_error_line():
    own = [f"{p.relative_to(REPO)}:{n}" for p in (REPO / "src").rglob("*.py") if p.name != "errors.py"
           for n, line in enumerate(p.read_text().splitlines(), 1)
           if re.search(r"print\(f?\"[^\"]*error: ", line)]
    assert not own, own
