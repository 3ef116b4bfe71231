"""A JetStream context whose publishes to some subjects go unanswered, as while a stream elects a leader."""

from __future__ import annotations

import asyncio
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


class LostAcks:
    """Async publishes to subjects containing `marked` whose acks never come, as when the node that was to
    answer died: the message reaches the server, the future is never resolved."""

    def __init__(self, js: JetStreamContext, marked: str) -> None:
        self._publish_async = js.publish_async
        self._marked = marked
        self.lost = 0

    async def publish_async(self, subject: str, payload: bytes = b"", **options: Any) -> Any:
        answered = await self._publish_async(subject, payload, **options)
        if self._marked not in subject:
            return answered
        self.lost += 1
        return asyncio.get_running_loop().create_future()
