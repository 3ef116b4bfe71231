"""The Mastodon gateway's settings."""

from __future__ import annotations

import msgspec


class MastodonSettings(msgspec.Struct, frozen=True):
    image_size_limit: int = 16 * 1024 * 1024
    # Video and audio files (animated GIFs are images here, as in Mastodon).
    video_size_limit: int = 99 * 1024 * 1024
    description_limit: int = 1500
    # How long POST /api/v2/media waits for an image to finish before answering 202; video, gifv and
    # audio are answered 202 at once.
    v2_sync_wait: float = 5.0
    # How long the synchronous POST /api/v1/media waits for processing at most.
    v1_sync_wait: float = 60.0
    # Requests per token on /api/ routes in each window of api_rate_period seconds; 0 turns the limit off.
    api_rate_limit: int = 300
    api_rate_period: int = 300
    # Media uploads per user in each window of media_rate_period seconds; 0 turns the limit off.
    media_rate_limit: int = 30
    media_rate_period: int = 1800
    # False exempts tokens made by `mediaplex token create` (scripts the operator runs) from both limits.
    rate_limit_cli_tokens: bool = True

    def __post_init__(self) -> None:
        # A window of no length would divide by zero on every request; say so at start instead.
        for name in ("api_rate_period", "media_rate_period"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1 second")
        for name in ("api_rate_limit", "media_rate_limit"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 (no limit) or more")
