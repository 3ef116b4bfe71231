"""Times as both APIs write them."""

from __future__ import annotations

import datetime as dt


def iso(ts: float) -> str:
    """ISO 8601 in UTC with milliseconds, as Mastodon and pump.io clients parse it."""
    moment = dt.datetime.fromtimestamp(ts, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
