"""Errors of the presigned-upload, posts and transformation APIs.

They answer `{"error": message, "code": machine_code}`, plus `"parameter"` when one request parameter
is to blame, so that an app can branch on `code` and show `error` to a person.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, *, parameter: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.parameter = parameter

    def response(self, headers: dict[str, str] | None = None) -> web.Response:
        body: dict[str, Any] = {"error": self.message, "code": self.code}
        if self.parameter is not None:
            body["parameter"] = self.parameter
        return web.json_response(body, status=self.status, headers=headers)
