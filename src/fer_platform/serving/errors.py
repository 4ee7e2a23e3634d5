"""The error request validation raises: a 4xx status and a message for the client."""

from __future__ import annotations

from http import HTTPStatus

from fer_platform.errors import UserError


class RequestError(UserError, ValueError):
    def __init__(self, status: HTTPStatus, message: str):
        super().__init__(message)
        self.status = status
