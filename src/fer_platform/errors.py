"""The base of every error a user can fix (bad data, params, arguments, an export that fails its check), and the
one way an entry point reports it: one line, `PROG: error: MESSAGE`, exit code 1, never a traceback. Every
command's `main` is wrapped by `entry_point`, which does that.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable

EXIT_USER_ERROR = 1


class UserError(Exception):
    """Something the user can fix; the message says what and where."""


# Besides UserError: a file a command was pointed at that is not there is also the user's to fix.
USER_ERRORS: tuple[type[BaseException], ...] = (UserError, FileNotFoundError)


def report(prog: str, err: BaseException) -> int:
    """Print a user error as one line on stderr; return the exit code for it."""
    print(f"{prog}: error: {err}", file=sys.stderr)
    return EXIT_USER_ERROR


def entry_point(prog: str, also: tuple[type[BaseException], ...] = ()) -> Callable[[Callable[..., int]], Callable[..., int]]:
    """Wrap a command's `main(...) -> exit code`: a user error it raises (and the `also` errors, for a command
    whose inputs are the user's files: a bad JSON card is a ValueError) is reported as one line, exit 1."""

    def wrap(main: Callable[..., int]) -> Callable[..., int]:
        @functools.wraps(main)
        def run(*args, **kwargs) -> int:
            try:
                return main(*args, **kwargs)
            except (*USER_ERRORS, *also) as err:
                return report(prog, err)

        run.entry_point = prog  # type: ignore[attr-defined]  (tests/test_errors.py finds every command by it)
        return run

    return wrap


class InvalidArgument(UserError, ValueError):
    """A value the user chose that cannot work (a builder argument, a release member, a TTA mode)."""
