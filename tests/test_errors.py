"""One error type for user mistakes and one way to print it (#23 structure): every error a user can fix is a
UserError, and every entry point reports one through errors.report (one line, exit 1)."""

import ast
import re

from fer_platform.config import ConfigError
from fer_platform.data.dataset import DataError
from fer_platform.errors import InvalidArgument, UserError, entry_point, report
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


def test_every_command_reports_user_errors_through_the_one_wrapper():
    """#23: each entry point had its own try/except around its work, each catching a different set; now every
    `main` is wrapped by errors.entry_point (the flows' through cli.run_stage, which wraps the stage in it)."""
    unwrapped = []
    for path in [*(REPO / "src").rglob("*.py"), *(REPO / "flows").glob("*.py")]:
        for node in ast.parse(path.read_text()).body:
            if not (isinstance(node, ast.FunctionDef) and node.name == "main"):
                continue
            wrapped = any(isinstance(d, ast.Call) and getattr(d.func, "id", "") == "entry_point"
                          for d in node.decorator_list)
            staged = any(isinstance(n, ast.Call) and getattr(n.func, "id", "") == "run_stage" for n in ast.walk(node))
            if not (wrapped or staged):
                unwrapped.append(str(path.relative_to(REPO)))
    assert not unwrapped, unwrapped


def test_the_wrapper_turns_a_user_error_into_one_line_and_exit_1_and_lets_a_bug_through(capsys):
    @entry_point("tool", also=(KeyError,))
    def main(fail: BaseException | None) -> int:
        if fail:
            raise fail
        return 0

    assert main(None) == 0
    assert main(ConfigError("params.yaml:3: train.comon: unknown key")) == 1
    assert main(FileNotFoundError("data/x.csv: not found")) == 1
    assert main(KeyError("layout")) == 1
    assert capsys.readouterr().err.splitlines() == ["tool: error: params.yaml:3: train.comon: unknown key",
                                                    "tool: error: data/x.csv: not found", "tool: error: 'layout'"]
    try:
        main(ZeroDivisionError("a bug"))
    except ZeroDivisionError:
        pass
    else:
        raise AssertionError("a bug must stay a traceback, not a user error")
