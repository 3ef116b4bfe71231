"""The pump.io gateway's settings."""

from __future__ import annotations

import msgspec


class PumpSettings(msgspec.Struct, frozen=True):
    upload_size_limit: int = 16 * 1024 * 1024
    # Video and audio, posted as pump.io video and audio objects.
    av_upload_size_limit: int = 99 * 1024 * 1024
    # The `content` of an image is its description, which Mastodon clients see too: the same limit.
    content_limit: int = 1500
    # How long an upload waits for processing before answering with what is known so far.
    pumpio_upload_wait: float = 5.0
