"""Users, tokens and reprocessing, done by appending events, so they work with or without a running server."""

from __future__ import annotations

import hashlib
import time

import msgspec

from core.events import (
    ActivityPosted,
    MediaDeleted,
    MediaFailed,
    MediaProcessed,
    MediaReprocessRequested,
    MediaUploaded,
    TokenIssued,
    UserAdded,
    outcome_subject,
)
from core.ids import USERNAME, hash_password, new_token, token_hash
from core.log import Conflict, EventLog

KNOWN_SCOPES = frozenset(
    {"read", "write", "follow", "push", "profile", "read:accounts", "read:statuses", "write:media",
     "write:statuses", "admin:read", "admin:write"}
)


class AdminError(Exception):
    pass


def _user_subject(name: str) -> str:
    return UserAdded(at=0, user_id=name, password_hash="").subject()


async def add_user(events: EventLog, name: str, password: str) -> None:
    if not USERNAME.fullmatch(name):
        raise AdminError(f"invalid user name {name!r}: use 1-30 letters, digits or underscores")
    event = UserAdded(at=time.time(), user_id=name, password_hash=hash_password(password))
    try:
        # Expecting nothing on the user's subject makes the name unique across racing writers.
        await events.append(event, msg_id=f"user.{name}", expected_last=0)
    except Conflict:
        raise AdminError(f"user {name!r} exists already") from None


async def create_token(events: EventLog, name: str, scopes: tuple[str, ...]) -> str:
    if not await events.last_on(_user_subject(name)):
        raise AdminError(f"no user {name!r}")
    unknown = sorted(set(scopes) - KNOWN_SCOPES)
    if unknown or not scopes:
        raise AdminError(f"unknown scopes: {' '.join(unknown) or '(none given)'}")
    token = new_token()
    hashed = token_hash(token)
    token_id = hashlib.sha256(hashed.encode()).hexdigest()[:16]
    event = TokenIssued(at=time.time(), token_id=token_id, user_id=name, token_hash=hashed, scopes=scopes,
                        cli=True)
    await events.append(event, msg_id=f"token.{token_id}")
    return token


class MediaState(msgspec.Struct):
    blob: str
    failed: bool = False
    kind: str = "image"


async def media_states(events: EventLog) -> dict[str, MediaState]:
    """Every media not deleted, folded from the log itself: the command must not trust a projection
    that may lag, or not exist on a machine that never served."""
    states: dict[str, MediaState] = {}
    async for record in events.read(1, follow=False):
        match record.event:
            case MediaUploaded(media_id=media_id, blob=blob, kind=kind):
                states[media_id] = MediaState(blob, kind=kind)
            case MediaProcessed(media_id=media_id) | MediaReprocessRequested(media_id=media_id):
                if media_id in states:
                    states[media_id].failed = False
            case MediaFailed(media_id=media_id):
                if media_id in states:
                    states[media_id].failed = True
            case MediaDeleted(media_id=media_id):
                states.pop(media_id, None)
            case ActivityPosted(verb="delete", object_type="image", object_id=media_id):
                states.pop(media_id, None)
    return states


async def request_reprocess(events: EventLog, media_id: str, state: MediaState) -> MediaReprocessRequested:
    """Ask the processors of the media's kind to process it again, replacing its current outcome."""
    outcome = outcome_subject(media_id)
    while True:
        after = await events.last_on(outcome)
        event = MediaReprocessRequested(at=time.time(), media_id=media_id, blob=state.blob, after=after,
                                        kind=state.kind)
        try:
            # Expecting `after` on the outcome subject means an outcome landing meanwhile sends us
            # round again, so the request always names the outcome it replaces.
            await events.append(event, msg_id=f"{media_id}.reprocess.{after}", expected_last=after,
                                expected_on=outcome)
        except Conflict:
            continue
        return event


async def reprocess(events: EventLog, media_id: str) -> MediaReprocessRequested:
    if not media_id or any(c in media_id for c in ". *>"):
        # Not a single subject token, so no media can have it.
        raise AdminError(f"no media {media_id!r}")
    state = (await media_states(events)).get(media_id)
    if state is None:
        # Uploaded once but gone from the fold: deleted, through either API.
        uploaded = await events.last_on(f"mx.media.{media_id}.uploaded")
        raise AdminError(f"media {media_id!r} was deleted" if uploaded else f"no media {media_id!r}")
    return await request_reprocess(events, media_id, state)


async def reprocess_failed(events: EventLog) -> list[MediaReprocessRequested]:
    states = await media_states(events)
    return [await request_reprocess(events, media_id, state)
            for media_id, state in states.items() if state.failed]
