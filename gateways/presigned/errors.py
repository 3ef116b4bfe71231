"""Refusals shared by the presigned-upload handlers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import nats.errors
from nats.js import errors as js_errors

from core.log import LogUnavailable
from gateways.apierrors import ApiError


def unavailable() -> ApiError:
    return ApiError(503, "unavailable", "The media service is temporarily unavailable, try again in a moment")


@contextlib.contextmanager
def reachable() -> Iterator[None]:
    """A log or broker that does not answer becomes a 503 the client may retry, not a crash."""
    try:
        yield
    except (LogUnavailable, nats.errors.TimeoutError, nats.errors.NoRespondersError,
            nats.errors.ConnectionClosedError, js_errors.ServiceUnavailableError) as exc:
        raise unavailable() from exc
