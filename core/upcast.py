"""Older shapes of events, turned into the current shape before typed decoding.

The codec calls `upcast` only for a payload the current union refused, so events written in the
current shape never come here. Each upcaster takes the event as a plain JSON object and returns it
in the shape the next version expects; when a tag changes shape again, its upcasters chain.
"""

from __future__ import annotations

from typing import Any

Raw = dict[str, Any]

_STYLES = ("original", "small", "thumb")


def upcast(raw: Raw) -> Raw | None:
    """The current shape of an older event, or None when no older shape of its tag matches."""
    match raw:
        case {"type": "media.processed", "original": dict(), "small": dict()} if "renditions" not in raw:
            return _processed_renditions(raw)
    return None


def _processed_renditions(raw: Raw) -> Raw:
    # Each style was a field of its own (thumb null or absent before processing version 2); the
    # renditions inside already named their style, so the list keeps them as they were, in order.
    renditions = [raw[style] for style in _STYLES if raw.get(style) is not None]
    rest = {key: value for key, value in raw.items() if key not in _STYLES}
    return {**rest, "renditions": renditions}
