"""The transformation gateway's settings."""

from __future__ import annotations

import msgspec


class TransformSettings(msgspec.Struct, frozen=True):
    # When set, every transformation URL must carry a valid `s=` signature made with this key.
    transform_key: str = ""
