"""Every state change Mediaplex knows, as frozen tagged Structs in one union.

Evolution rule: a new field gets a default; a field's type never changes; a breaking change gets a
new tag (and, where old events must still be read, an upcaster in this module). The golden samples
under tests/golden/ are decoded on every test run to hold us to that.
"""

from __future__ import annotations

import msgspec


class Focus(msgspec.Struct, frozen=True):
    """Mastodon's focal point: x and y in -1..1, origin at the centre, y pointing up."""

    x: float
    y: float


class RenditionInfo(msgspec.Struct, frozen=True):
    style: str
    width: int
    height: int
    content_type: str
    size: int


class Event(msgspec.Struct, frozen=True, tag_field="type"):
    """Base of every event. `at` is the wall-clock time of the change, in seconds since the epoch."""

    at: float


class UserAdded(Event, frozen=True, tag="user.added"):
    user_id: str
    password_hash: str

    def subject(self) -> str:
        return f"mx.user.{self.user_id}.added"


class TokenIssued(Event, frozen=True, tag="token.issued"):
    token_id: str
    user_id: str
    token_hash: str
    scopes: tuple[str, ...]

    def subject(self) -> str:
        return f"mx.token.{self.token_id}.issued"


class MediaUploaded(Event, frozen=True, tag="media.uploaded"):
    media_id: str
    owner_id: str
    blob: str
    size: int
    content_type: str
    width: int
    height: int
    frames: int = 1
    filename: str = ""
    description: str = ""
    focus: Focus | None = None
    via: str = ""

    def subject(self) -> str:
        return f"mx.media.{self.media_id}.uploaded"


class MediaProcessed(Event, frozen=True, tag="media.processed"):
    media_id: str
    blob: str
    version: int
    original: RenditionInfo
    small: RenditionInfo
    blurhash: str

    def subject(self) -> str:
        return outcome_subject(self.media_id)


class MediaFailed(Event, frozen=True, tag="media.failed"):
    media_id: str
    reason: str

    def subject(self) -> str:
        return outcome_subject(self.media_id)


class MediaUpdated(Event, frozen=True, tag="media.updated"):
    """A metadata change; a field left as None keeps its value."""

    media_id: str
    description: str | None = None
    focus: Focus | None = None

    def subject(self) -> str:
        return f"mx.media.{self.media_id}.updated"


class MediaDeleted(Event, frozen=True, tag="media.deleted"):
    media_id: str

    def subject(self) -> str:
        return f"mx.media.{self.media_id}.deleted"


AnyEvent = UserAdded | TokenIssued | MediaUploaded | MediaProcessed | MediaFailed | MediaUpdated | MediaDeleted


def outcome_subject(media_id: str) -> str:
    # Processed and failed share one subject so that "no outcome yet" is a single
    # expected-last-subject-sequence check: only one processor replica's result lands.
    return f"mx.media.{media_id}.outcome"


def aggregate_filter(subject: str) -> str:
    """`mx.media.42.updated` -> `mx.media.42.>`: every subject of the same aggregate."""
    prefix, _, _ = subject.rpartition(".")
    return prefix + ".>"


class Codec:
    """One encoder and one decoder for the whole union, built once by whoever owns the log."""

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(AnyEvent)

    def encode(self, event: AnyEvent) -> bytes:
        return self._encoder.encode(event)

    def decode(self, data: bytes) -> AnyEvent:
        return self._decoder.decode(data)
