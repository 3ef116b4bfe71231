"""The presigned-upload gateway's settings."""

from __future__ import annotations

import msgspec


class PresignedSettings(msgspec.Struct, frozen=True):
    presigned_size_limit: int = 10 * 1024 * 1024
    upload_url_ttl: float = 15 * 60.0
    # HMAC key of upload URLs; empty: one generated key, kept in the broker, shared by every replica.
    upload_secret: str = ""
    # Video and audio contentTypes in upload grants; off, only images are granted.
    presigned_av: bool = False
