"""Where an image was made: an object's `location`, an Activity Streams place object kept as the client gave it.

pump.io's place is any object's members plus `position` and `address`; MediaGoblin keeps `displayName`,
`position` (`latitude`, `longitude`, `altitude`, `direction`) and `address` (`formatted`, `streetAddress`,
`locality`, `region`, `postalCode`, `country`). Clients also put coordinates beside `position`, as
Activity Streams 2.0 does (`latitude`, `longitude`) or as maps do (`lat`, `lon`). Every member is kept, so
a client reads back what it wrote; the well-known ones are checked for their types and ranges, and the
whole is bounded, since it travels in the event of every post and update that gives it.
"""

from __future__ import annotations

import math
from typing import Any

import msgspec

from core.sanitize import safe_html, title_text
from gateways.kit.refusal import Refusal

# Room for a name, an address and coordinates many times over, and small beside an activity's limit.
LOCATION_BYTES = 4096
RANGES = {"latitude": 90.0, "lat": 90.0, "longitude": 180.0, "lon": 180.0, "long": 180.0}
TEXT = ("displayName", "summary", "content", "url", "id")

CLEANED = {"displayName": title_text, "summary": safe_html, "content": safe_html}

BAD_URL = "'location.url' must be an http or https URL"
NOT_A_PLACE = "'location' must be a place: an object whose objectType, if given, is 'place'"
TOO_LARGE = f"'location' is too large (at most {LOCATION_BYTES} bytes as JSON)"


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_coordinates(members: dict[str, Any], where: str) -> None:
    for name, most in RANGES.items():
        if name in members and not (_number(members[name]) and -most <= members[name] <= most):
            raise Refusal(400, f"'{where}.{name}' must be a number from {-most:g} to {most:g}")
    for name in ("altitude", "direction"):
        if name in members and not _number(members[name]):
            raise Refusal(400, f"'{where}.{name}' must be a number")


def place(obj: dict[str, Any]) -> str | None:
    """The object's `location` as JSON, objectType first; None when it gives none (it is then left as it is)."""
    value = obj.get("location")
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("objectType", "place") != "place":
        raise Refusal(400, NOT_A_PLACE)
    for name in TEXT:
        if name in value and not isinstance(value[name], str):
            raise Refusal(400, f"'location.{name}' must be a string")
    for name in ("position", "address"):
        # ISO 6709 ("+48.8577+002.295/") and a formatted address are strings; the rest are objects.
        if name in value and not isinstance(value[name], dict | str):
            raise Refusal(400, f"'location.{name}' must be an object or a string")
    _check_coordinates(value, "location")
    if isinstance(value.get("position"), dict):
        _check_coordinates(value["position"], "location.position")
    if "url" in value and not value["url"].lower().startswith(("http://", "https://")):
        raise Refusal(400, BAD_URL)
    # Clients show a place's name and description as they show an object's: kept in the same safe forms.
    value = {**value, **{name: clean(value[name]) for name, clean in CLEANED.items() if name in value}}
    encoded = msgspec.json.encode({"objectType": "place", **value})
    if len(encoded) > LOCATION_BYTES:
        raise Refusal(400, TOO_LARGE)
    return encoded.decode()
