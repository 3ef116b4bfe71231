"""A JetStream context whose publishes to some subjects go unanswered, as while a stream elects a leader."""

from __future__ import annotations

from typing import Any

import nats.errors
from nats.js import JetStreamContext


class LostAnswers:
    """Publishes to subjects containing `marked` go unanswered `times` times (-1: always); with `landing`
    they reach the server first, as a publish whose ack was lost."""

    def __init__(self, js: JetStreamContext, marked: str, *, landing: bool, times: int) -> None:
        self._publish = js.publish
        self._marked = marked
        self._landing = landing
        self.left = times

    async def publish(self, subject: str, payload: bytes = b"", **options: Any) -> Any:
        if self._marked not in subject or self.left == 0:
            return await self._publish(subject, payload, **options)
        self.left -= 1
        if self._landing:
            await self._publish(subject, payload, **options)
        raise nats.errors.TimeoutError
