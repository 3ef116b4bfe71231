"""What every pump.io verb's interpreter shares: who is acting, through which client, and how object ids,
texts and tags in an activity are read and refused."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import msgspec

from gateways.kit.refusal import Refusal
from gateways.pumpio.render import Site
from store.reader import ProjectionReader

LOCAL_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
TITLE_LIMIT = 255
LICENSE_LIMIT = 255
TAG_LIMIT = 100
TAGS_LIMIT = 100

INVALID_ACTIVITY = "Invalid activity provided."
NOT_IMPLEMENTED = "Verb not yet implemented"
NO_OBJECT_TYPE = "No objectType specified."
NO_OBJECT_ID = "Object ID has not been specified."


class Context(msgspec.Struct, frozen=True):
    """One actor's activity: the projection it is judged against, the site its ids belong to, the client."""

    projection: ProjectionReader
    site: Site
    actor: str
    generator: str
    content_limit: int


class Posted(msgspec.Struct, frozen=True):
    """A posted activity, read as far as every verb needs: its verb, its object and that object's type."""

    verb: str
    obj: dict[str, Any]
    object_type: str
    body: dict[str, Any]


def only_author(verb: str, object_type: str) -> str:
    return f"Only the author can {verb} this {object_type}."


def unknown_type(object_type: object) -> str:
    return f"Unknown object type '{object_type}'."


def local_id(value: object, object_type: str, site: Site) -> str | None:
    """The local id in `<public url>/api/<type>/<id>`; None for anything else, such as another server's object."""
    if not isinstance(value, str):
        return None
    prefix = site.object_id(object_type, "")
    if not value.startswith(prefix):
        return None
    rest = value[len(prefix):].rstrip("/")
    return rest if LOCAL_ID.fullmatch(rest) else None


def object_id(obj: dict[str, Any]) -> object:
    """The object's `id`, refused when the activity names none."""
    if "id" not in obj:
        raise Refusal(400, NO_OBJECT_ID)
    return obj["id"]


def text(obj: dict[str, Any], key: str, limit: int, clean: Callable[[str], str]) -> str | None:
    """The field made safe by `clean` (content is HTML cut to the whitelist, a title plain text), so
    that the event, and every protocol showing it, holds only the safe form; the limit is the client's."""
    if key not in obj or obj[key] is None:
        return None
    value = obj[key]
    if not isinstance(value, str):
        raise Refusal(400, f"'{key}' must be a string")
    if len(value) > limit:
        raise Refusal(400, f"'{key}' is too long (maximum is {limit} characters)")
    return clean(value)


def tags(obj: dict[str, Any]) -> tuple[str, ...] | None:
    value = obj.get("tags")
    if value is None:
        return None
    message = f"'tags' must be a list of at most {TAGS_LIMIT} strings of at most {TAG_LIMIT} characters"
    if not isinstance(value, list) or len(value) > TAGS_LIMIT:
        raise Refusal(400, message)
    if not all(isinstance(tag, str) and len(tag) <= TAG_LIMIT for tag in value):
        raise Refusal(400, message)
    return tuple(value)
