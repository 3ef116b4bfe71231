"""What a media's owner may change about it, the same whichever protocol asks: its description, its focus point,
and whether it exists.

The checks raise small typed errors rather than refusals: each protocol answers them in its own words.
"""

from __future__ import annotations

import math
import sqlite3
import time

from aiohttp import web

from core.events import Focus, MediaDeleted, MediaUpdated
from gateways.kit import writes
from gateways.kit.services import SERVICES
from store.queries.media import in_use


class ChangeRefused(Exception):
    """A change the media cannot take; nothing was appended."""


class BadFocus(ChangeRefused):
    """Not two finite numbers in -1..1."""


class DescriptionTooLong(ChangeRefused):
    def __init__(self, limit: int, length: int) -> None:
        super().__init__(f"description of {length} characters, at most {limit} allowed")
        self.limit = limit
        self.length = length


class InUse(ChangeRefused):
    """A post attaches the media or its owner's profile shows it: deleting it would leave a hole there."""


def focus_point(x: str, y: str) -> Focus:
    """Mastodon's focal point from its two coordinates: x from -1 (left) to 1 (right), y from -1 (bottom) to
    1 (top)."""
    try:
        point = Focus(x=float(x), y=float(y))
    except ValueError:
        raise BadFocus(f"{x!r}, {y!r}") from None
    # float() takes "nan" and "inf", which no image has a point at.
    if not all(math.isfinite(v) and -1.0 <= v <= 1.0 for v in (point.x, point.y)):
        raise BadFocus(f"{x!r}, {y!r}")
    return point


def focus_of(value: str) -> Focus:
    """The focal point written as Mastodon's `"x,y"`."""
    parts = value.split(",")
    if len(parts) != 2:
        raise BadFocus(repr(value))
    return focus_point(*parts)


def check_description(value: str, limit: int) -> str:
    """`value`, when it is at most `limit` characters long."""
    if len(value) > limit:
        raise DescriptionTooLong(limit, len(value))
    return value


async def update(request: web.Request, media_id: str, *, description: str | None = None,
                 focus: Focus | None = None) -> bool:
    """Appends the change, already checked; a field left None keeps its value. False when there is nothing to
    change, and nothing is appended."""
    if description is None and focus is None:
        return False
    event = MediaUpdated(at=time.time(), media_id=media_id, description=description, focus=focus)
    await writes.append(request, event, msg_id=f"{media_id}.updated.{time.time_ns()}")
    return True


async def delete(request: web.Request, row: sqlite3.Row) -> None:
    """Deletes the media of `row`, its owner's to delete, unless something shows it (InUse)."""
    if await in_use(request.app[SERVICES].projection, row["media_id"]):
        raise InUse(row["media_id"])
    # An image posted to pump.io feeds leaves a delete activity there, as a pump.io delete would.
    await writes.append(request, MediaDeleted(at=time.time(), media_id=row["media_id"], owner_id=row["owner_id"],
                                              published=row["published_at"] is not None),
                        msg_id=f"{row['media_id']}.deleted")
