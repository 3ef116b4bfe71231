"""One exception for every refusal, rendered by the error style of the gateway that served the route.

A handler says what went wrong (status, message, a machine code, the parameter to blame); the error
boundary (gateways.kit.boundary) turns it into the protocol's own JSON shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

# A code for refusals raised without one, so that a protocol whose errors carry codes always has one.
DEFAULT_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many_requests",
    431: "headers_too_large",
    500: "internal_error",
    503: "unavailable",
}


class Refusal(Exception):
    """A request answered with `status` and `message`; `code` and `parameter` for protocols that carry them."""

    def __init__(self, status: int, message: str, *, code: str = "", parameter: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or DEFAULT_CODES.get(status, "error")
        self.parameter = parameter
        self.headers = dict(headers or {})


class ErrorStyle(msgspec.Struct, frozen=True):
    """How one protocol shapes its errors, and what it says while the log is unreachable."""

    # `{"error": message}` alone (Mastodon, pump.io), or with `code` and `parameter` too.
    codes: bool
    unavailable: str = "The media service is temporarily unavailable, try again in a moment"
    # A route that does not exist, in this protocol's words.
    not_found: str = "Record not found"
    # Kit codes this protocol spells otherwise (documented codes never change).
    renames: dict[str, str] = msgspec.field(default_factory=dict)
    # A page for people: the refusal as an HTML page, not JSON.
    html: bool = False

    def body(self, refusal: Refusal) -> dict[str, Any]:
        body: dict[str, Any] = {"error": refusal.message}
        if self.codes:
            body["code"] = self.renames.get(refusal.code, refusal.code)
            if refusal.parameter is not None:
                body["parameter"] = refusal.parameter
        return body


# `{"error", "code"[, "parameter"]}`: the presigned-upload, posts and transformation APIs.
CODED = ErrorStyle(codes=True, not_found="Not found")
# `{"error"}` with Mastodon's texts; also the shape of routes no gateway claims.
PLAIN = ErrorStyle(codes=False)
