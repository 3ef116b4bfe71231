"""The process's Prometheus metrics and the request id that follows one request into the log.

One Metrics per process, owned by the composition root and handed to what records; nothing here
registers with prometheus_client's global registry.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from core.events import AnyEvent, MediaUploaded

log = logging.getLogger(__name__)

# The NATS header an append carries the current request id in; consumers read it back.
REQUEST_HEADER = "Mx-Request-Id"
# An incoming X-Request-Id is kept only when it is this short and printable: it goes into logs.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
# Seconds one scrape waits for what it reads from the broker.
REFRESH_TIMEOUT = 1.0

# The id of the request (or of the job carrying one) being worked on; "" outside of any.
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

Refresh = Callable[[], Awaitable[None]]


def accepted_id(offered: str | None) -> str:
    """The offered id when it is sane, else a new one."""
    if offered and REQUEST_ID.fullmatch(offered):
        return offered
    return secrets.token_hex(8)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("mediaplex_http_requests", "HTTP requests answered",
                                ("gateway", "route", "status"), registry=r)
        self.latency = Histogram("mediaplex_http_request_duration_seconds", "HTTP request duration",
                                 ("gateway", "route"), registry=r)
        self.uploads = Counter("mediaplex_uploads", "Uploads appended, by the protocol they came through",
                               ("via",), registry=r)
        self.upload_bytes = Counter("mediaplex_upload_bytes", "Bytes of the uploads appended", ("via",),
                                    registry=r)
        self.processing = Histogram("mediaplex_processing_duration_seconds", "Processing of one media",
                                    ("kind", "outcome"), registry=r,
                                    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1200))
        self.appends = Histogram("mediaplex_append_duration_seconds", "Appends to the log until acknowledged",
                                 registry=r, buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 10))
        self.queue = Gauge("mediaplex_queue_pending_messages", "Messages the durable consumer has yet to deliver",
                           ("consumer",), registry=r)
        self.queue_unacked = Gauge("mediaplex_queue_unacked_messages", "Messages delivered and not acked yet",
                                   ("consumer",), registry=r)
        self.lag_events = Gauge("mediaplex_projection_lag_events", "Stream head minus the projection's checkpoint",
                                registry=r)
        self.lag_seconds = Gauge("mediaplex_projection_lag_seconds",
                                 "While behind, seconds since the checkpoint last moved; 0 when caught up",
                                 registry=r)
        self.variants = Counter("mediaplex_variant_cache_lookups", "Transformed image lookups", ("result",),
                                registry=r)
        self.reconnects = Counter("mediaplex_broker_reconnects", "Reconnections to NATS", registry=r)
        self._refreshers: list[Refresh] = []
        self._checkpoint = (-1, time.monotonic())

    def on_scrape(self, refresh: Refresh) -> None:
        """Run `refresh` before each scrape; it may fail or time out without failing the scrape."""
        self._refreshers.append(refresh)

    async def scrape(self) -> bytes:
        for refresh in self._refreshers:
            try:
                async with asyncio.timeout(REFRESH_TIMEOUT):
                    await refresh()
            except Exception as exc:  # noqa: BLE001 - a broker away leaves the last values, never a 5xx
                log.debug("metrics refresh failed: %s", exc)
        return generate_latest(self.registry)

    def appended(self, event: AnyEvent, seconds: float) -> None:
        self.appends.observe(seconds)
        if isinstance(event, MediaUploaded):
            self.uploads.labels(event.via).inc()
            self.upload_bytes.labels(event.via).inc(event.size)

    def projected(self, head: int, applied: int) -> None:
        """Lag of a projection at `applied` behind `head`, in events and in seconds since it last moved."""
        now = time.monotonic()
        last, since = self._checkpoint
        if applied != last:
            self._checkpoint = (applied, now)
            since = now
        behind = max(head - applied, 0)
        self.lag_events.set(behind)
        self.lag_seconds.set(now - since if behind else 0.0)
