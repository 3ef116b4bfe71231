"""The transformation gateway's settings."""

from __future__ import annotations

import msgspec


class TransformSettings(msgspec.Struct, frozen=True):
    # When set, every transformation URL must carry a valid `s=` signature made with this key.
    transform_key: str = ""
    # Bytes of variant answers kept in memory by request (gateways/transform/cache.py Answers).
    variant_memory: int = 64 << 20
