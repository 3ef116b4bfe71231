"""Errors of the presigned-upload, posts and transformation APIs, in the order these APIs name them.

They answer `{"error": message, "code": machine_code}`, plus `"parameter"` when one request parameter
is to blame, so that an app can branch on `code` and show `error` to a person.
"""

from __future__ import annotations

from gateways.kit.refusal import Refusal


class ApiError(Refusal):
    def __init__(self, status: int, code: str, message: str, *, parameter: str | None = None) -> None:
        super().__init__(status, message, code=code, parameter=parameter)
