"""What a post may hold, checked before anything is looked up."""

from __future__ import annotations

import re

from gateways.kit.refusal import Refusal
from gateways.posts import errors

BODY_LIMIT = 5000
# As many as a Mastodon status takes, which the instance endpoint already advertises.
ATTACHMENTS_LIMIT = 4
SPACE_LIMIT = 255
# W3C DID syntax: did:<method>:<method-specific id>, the id made of idchars and pct-encoded bytes,
# colons allowed inside but not at the end.
_IDCHAR = r"(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})"
DID = re.compile(rf"did:[a-z0-9]+:(?:{_IDCHAR}*:)*{_IDCHAR}+")


def body(value: str, *, attachments: int) -> str:
    if len(value) > BODY_LIMIT:
        raise Refusal(422, f"The body is too long (maximum is {BODY_LIMIT} characters)",
                      code=errors.BODY_TOO_LONG, parameter="body")
    if not value.strip() and not attachments:
        raise Refusal(422, "A post needs a body or at least one attachment", code=errors.EMPTY_POST, parameter="body")
    return value


def space(value: str) -> str:
    if len(value) > SPACE_LIMIT or not DID.fullmatch(value):
        raise Refusal(422, f"'spaceDID' must be a DID (did:<method>:<id>) of at most {SPACE_LIMIT} characters",
                      code=errors.INVALID_SPACE, parameter="spaceDID")
    return value


def attachment_ids(ids: tuple[str, ...]) -> tuple[str, ...]:
    if len(ids) > ATTACHMENTS_LIMIT:
        raise Refusal(422, f"Cannot attach more than {ATTACHMENTS_LIMIT} files",
                      code=errors.TOO_MANY_ATTACHMENTS, parameter="attachmentIds")
    repeated = sorted({media_id for media_id in ids if ids.count(media_id) > 1})
    if repeated:
        raise Refusal(422, f"Media attached more than once: {', '.join(repeated)}",
                      code=errors.DUPLICATE_ATTACHMENT, parameter="attachmentIds")
    return ids
