"""The base of every error a user can fix (bad data, params, arguments, an export that fails its check), and the
one way an entry point reports it: one line, `PROG: error: MESSAGE`, exit code 1, never a traceback."""

from __future__ import annotations

import sys

EXIT_USER_ERROR = 1


class UserError(Exception):
    """Something the user can fix; the message says what and where."""


# Besides UserError: a file a command was pointed at that is not there is also the user's to fix.
USER_ERRORS: tuple[type[BaseException], ...] = (UserError, FileNotFoundError)


def report(prog: str, err: BaseException) -> int:
    """Print a user error as one line on stderr; return the exit code for it."""
    print(f"{prog}: error: {err}", file=sys.stderr)
    return EXIT_USER_ERROR


class InvalidArgument(UserError, ValueError):
    """A value the user chose that cannot work (a builder argument, a release member, a TTA mode)."""
