"""The base of every error a user can fix (bad data, params, arguments, an export that fails its check):
entry points report these in one line with exit code 1, never as a traceback."""


class UserError(Exception):
    """Something the user can fix; the message says what and where."""
