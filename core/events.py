"""Every state change Mediaplex knows, as frozen tagged Structs in one union.

Evolution rule: a new field gets a default; a field's type never changes; a breaking change gets a
new tag, or keeps its tag and gets an upcaster in core/upcast.py that turns the older shape into the
current one. The golden samples under tests/golden/ are decoded on every test run to hold us to that.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from core.upcast import upcast


# Events hold only strings, numbers and other events' parts, never a cycle, so the cyclic garbage
# collector need not track them (gc=False, inherited): a rebuild decodes hundreds of thousands, and
# tracking each made the collector's passes cost as much as the decoding.
class Focus(msgspec.Struct, frozen=True, gc=False):
    """Mastodon's focal point: x and y in -1..1, origin at the centre, y pointing up."""

    x: float
    y: float


class RenditionInfo(msgspec.Struct, frozen=True, gc=False):
    style: str
    width: int
    height: int
    content_type: str
    size: int


class MediaMeta(msgspec.Struct, frozen=True, gc=False, omit_defaults=True):
    """What a video or audio original is: Mastodon's `meta.original`; a value it has not is left out."""

    width: int = 0
    height: int = 0
    # A ratio such as "30/1" or "30000/1001".
    frame_rate: str = ""
    duration: float = 0.0
    # Bits per second of the whole file.
    bitrate: int = 0


class Event(msgspec.Struct, frozen=True, tag_field="type", gc=False):
    """Base of every event. `at` is the wall-clock time of the change, in seconds since the epoch."""

    at: float


class UserAdded(Event, frozen=True, tag="user.added"):
    user_id: str
    password_hash: str
    # May open the operator console; users added before there was one are not admins.
    admin: bool = False

    def subject(self) -> str:
        return f"mx.user.{self.user_id}.added"


class UserMadeAdmin(Event, frozen=True, tag="user.admin"):
    """An existing user may open the operator console from now on."""

    user_id: str

    def subject(self) -> str:
        return f"mx.user.{self.user_id}.admin"


class TokenIssued(Event, frozen=True, tag="token.issued"):
    token_id: str
    user_id: str
    token_hash: str
    scopes: tuple[str, ...]
    # Made by `mediaplex token create`; an operator may exempt such tokens from rate limits.
    cli: bool = False
    # The registered app the user signed in to; "" for a token made by the operator.
    client_id: str = ""

    def subject(self) -> str:
        return f"mx.token.{self.token_id}.issued"


class TokenRevoked(Event, frozen=True, tag="token.revoked"):
    """A bearer token no longer grants anything."""

    token_id: str
    token_hash: str

    def subject(self) -> str:
        return f"mx.token.{self.token_id}.revoked"


class AppRegistered(Event, frozen=True, tag="app.registered"):
    """A client application that signs users in with OAuth 2.0. Only the secret's hash is kept."""

    app_id: str
    client_id: str
    secret_hash: str
    name: str
    website: str = ""
    redirect_uris: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()

    def subject(self) -> str:
        return f"mx.app.{self.client_id}.registered"


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
    # core/kinds.py; every upload before video and audio were taken is an image (animated GIFs too).
    kind: str = "image"

    def subject(self) -> str:
        return f"mx.media.{self.media_id}.uploaded"


class MediaProcessed(Event, frozen=True, tag="media.processed"):
    """The renditions of one processing version, each named by its style.

    Every version has `original` and `small`; version 2 on adds `thumb` (320x320 fit, for pump.io
    clients). They are one list rather than a field per style so that a version adding a style
    changes no schema. Events written before this carried `original`, `small` and `thumb` as fields
    of their own; core/upcast.py reads those.
    """

    media_id: str
    blob: str
    version: int
    renditions: tuple[RenditionInfo, ...]
    blurhash: str
    # Video and audio: the kind processed and what the original is. An audio file without cover
    # art has no still renditions, and an empty blurhash.
    kind: str = "image"
    meta: MediaMeta | None = None

    def by_style(self) -> dict[str, RenditionInfo]:
        return {info.style: info for info in self.renditions}

    def subject(self) -> str:
        return outcome_subject(self.media_id)


class MediaThumbnailSet(Event, frozen=True, tag="media.thumbnail"):
    """A custom preview of a video or audio file (Mastodon's `thumbnail`): an image of its own blob,
    rendered as any image is, whose `small` and `thumb` and BlurHash stand in for those made from the
    file. Its renditions are a function of (blob, version), so any replica renders them again."""

    media_id: str
    blob: str
    version: int
    renditions: tuple[RenditionInfo, ...]
    blurhash: str

    def subject(self) -> str:
        return f"mx.media.{self.media_id}.thumbnail"


class MediaFailed(Event, frozen=True, tag="media.failed"):
    media_id: str
    reason: str

    def subject(self) -> str:
        return outcome_subject(self.media_id)


class MediaReprocessRequested(Event, frozen=True, tag="media.reprocess"):
    """Process the media's blob again, to replace the outcome at stream sequence `after` (0: none yet).

    The processor appends its new outcome expecting `after` as the last sequence on the outcome
    subject, so one request yields at most one new outcome however often it is delivered.
    """

    media_id: str
    blob: str
    after: int
    # The media's kind, so the request reaches the consumer that processes it.
    kind: str = "image"

    def subject(self) -> str:
        return f"mx.media.{self.media_id}.reprocess"


class MediaUpdated(Event, frozen=True, tag="media.updated"):
    """A metadata change; a field left as None keeps its value."""

    media_id: str
    description: str | None = None
    focus: Focus | None = None
    title: str | None = None
    license: str | None = None
    tags: tuple[str, ...] | None = None

    def subject(self) -> str:
        return f"mx.media.{self.media_id}.updated"


class MediaDeleted(Event, frozen=True, tag="media.deleted"):
    media_id: str
    # Why, for operators reading the log: "" for a user's request, "unposted" for the sweeper.
    reason: str = ""
    # Its owner, and whether it had been posted to the owner's pump.io feeds, which then tell of the delete.
    owner_id: str = ""
    published: bool = False

    def subject(self) -> str:
        return f"mx.media.{self.media_id}.deleted"


class ClientRegistered(Event, frozen=True, tag="client.registered"):
    """A pump.io client from dynamic registration. The secret is kept: OAuth 1.0a signs with it."""

    client_id: str
    client_secret: str
    application_type: str = "native"
    application_name: str = ""
    logo_uri: str = ""
    contacts: tuple[str, ...] = ()
    redirect_uris: tuple[str, ...] = ()

    def subject(self) -> str:
        return f"mx.client.{self.client_id}.registered"


class ClientUpdated(Event, frozen=True, tag="client.updated"):
    """client_update: a field left as None keeps its value."""

    client_id: str
    application_type: str | None = None
    application_name: str | None = None
    logo_uri: str | None = None
    contacts: tuple[str, ...] | None = None
    redirect_uris: tuple[str, ...] | None = None

    def subject(self) -> str:
        return f"mx.client.{self.client_id}.updated"


class AccessGranted(Event, frozen=True, tag="oauth.granted"):
    """An OAuth 1.0a access token, as every gateway replica must be able to verify its signatures."""

    token: str
    secret: str
    client_id: str
    user_id: str

    def subject(self) -> str:
        return f"mx.oauth.{self.token}.granted"


class ActivityPosted(Event, frozen=True, tag="activity.posted"):
    """One pump.io activity and its effect on the object it names, as a single atomic change.

    verb: post | update | delete; object_type: image | comment. For images object_id is the
    media id. Fields left as None are not changed. `reply_owner` is the owner of the object a
    comment replies to, so inboxes can be folded without looking anything up.
    """

    activity_id: str
    actor: str
    verb: str
    object_type: str
    object_id: str
    display_name: str | None = None
    content: str | None = None
    license: str | None = None
    tags: tuple[str, ...] | None = None
    in_reply_to: str | None = None
    reply_owner: str | None = None
    generator: str = ""
    # A note posted through the presigned-upload API: the media it attaches, and the space it names.
    attachments: tuple[str, ...] = ()
    space: str = ""
    # An image's place (an Activity Streams place object) as JSON, as the client gave it.
    location: str | None = None

    def subject(self) -> str:
        return f"mx.activity.{self.activity_id}.posted"


class MediaRequested(Event, frozen=True, tag="media.requested"):
    """A presigned upload was granted: the media id exists, its bytes have not arrived yet.

    The upload that follows is a MediaUploaded with the same media id, via "presigned".
    """

    media_id: str
    owner_id: str
    filename: str
    content_type: str
    max_bytes: int
    expires_at: float

    def subject(self) -> str:
        return f"mx.media.{self.media_id}.requested"


class AvatarSet(Event, frozen=True, tag="identity.avatar"):
    """A user's profile picture now is this media (its owner's own)."""

    user_id: str
    media_id: str

    def subject(self) -> str:
        return f"mx.identity.{self.user_id}.avatar"


class PostCreated(Event, frozen=True, tag="post.created"):
    """One post, whichever protocol it came through: Mastodon statuses, `/posts` and pump.io notes alike.

    `post_id` is numeric and time-ordered (core/ids.py), as Mastodon clients compare status ids.
    `attachments` are media ids, at most four, each attached to this post only.
    """

    post_id: str
    author: str
    text: str = ""
    attachments: tuple[str, ...] = ()
    visibility: str = "public"
    sensitive: bool = False
    spoiler_text: str = ""
    language: str = ""
    in_reply_to: str = ""
    # The gateway it came through (its `via`) and the client application that posted it.
    via: str = ""
    app: str = ""
    # The space a post through the posts API names.
    space: str = ""
    # A pump.io comment: the image it comments on and that image's owner, whose inbox it reaches.
    comment_on: str = ""
    reply_owner: str = ""
    # A pump.io note's displayName.
    title: str = ""

    def subject(self) -> str:
        return f"mx.post.{self.post_id}.created"


class PostEdited(Event, frozen=True, tag="post.edited"):
    """The post's text, attachments and flags as they are now; `detached` lists media it no longer shows."""

    post_id: str
    author: str
    text: str = ""
    attachments: tuple[str, ...] = ()
    sensitive: bool = False
    spoiler_text: str = ""
    language: str = ""
    detached: tuple[str, ...] = ()
    # The pump.io activity that posted it and the note it posted, so feeds fold the change without
    # looking anything up (an update activity of the note tells pump.io clients of the edit).
    activity_id: str = ""
    note_id: str = ""
    # A pump.io comment: the image it comments on, that image's owner and the client that changed it.
    comment_on: str = ""
    reply_owner: str = ""
    app: str = ""

    def subject(self) -> str:
        return f"mx.post.{self.post_id}.edited"


class PostDeleted(Event, frozen=True, tag="post.deleted"):
    """The post is gone; its media is no longer attached (and may be swept like any unposted upload)."""

    post_id: str
    author: str
    attachments: tuple[str, ...] = ()
    # The pump.io activity that posted it and the note it posted, so feeds fold the delete on their own.
    activity_id: str = ""
    note_id: str = ""
    # A pump.io comment: the image it comments on, that image's owner and the client that deleted it.
    comment_on: str = ""
    reply_owner: str = ""
    app: str = ""

    def subject(self) -> str:
        return f"mx.post.{self.post_id}.deleted"


class Reaction(Event, frozen=True):
    """What a favorite or share names, whichever protocol said so: one reaction.

    `kind`: favorite | share. `object_type`: image | video | audio | note | comment, and `object_id`
    the media id or the post id. `object_owner` is whose object it is, so that owner's inbox hears of
    it without a lookup. `reaction_id` names this change, and is the activity pump.io shows for it.
    """

    reaction_id: str
    actor: str
    kind: str
    object_type: str
    object_id: str
    object_owner: str = ""
    via: str = ""
    app: str = ""


class Reacted(Reaction, frozen=True, tag="reaction.added"):
    """A person favorited or shared an object."""

    def subject(self) -> str:
        return f"mx.reaction.{self.reaction_id}.added"


class Unreacted(Reaction, frozen=True, tag="reaction.removed"):
    """A favorite or share taken back."""

    def subject(self) -> str:
        return f"mx.reaction.{self.reaction_id}.removed"


class Follow(Event, frozen=True):
    follow_id: str
    follower: str
    followee: str
    via: str = ""
    app: str = ""


class Followed(Follow, frozen=True, tag="follow.added"):
    """`follower` now follows `followee`: what the followee does from now on reaches the follower's inbox."""

    def subject(self) -> str:
        return f"mx.follow.{self.follow_id}.added"


class Unfollowed(Follow, frozen=True, tag="follow.removed"):
    """`follower` stopped following `followee`; what already reached the inbox stays there."""

    def subject(self) -> str:
        return f"mx.follow.{self.follow_id}.removed"


class CollectionCreated(Event, frozen=True, tag="collection.created"):
    """A collection (an album of media, a list of people) owned by `owner`.

    `object_types` are the kinds of member it is meant for, as the client said (such as image or person).
    """

    collection_id: str
    owner: str
    name: str = ""
    content: str = ""
    object_types: tuple[str, ...] = ()
    via: str = ""
    app: str = ""

    def subject(self) -> str:
        return f"mx.collection.{self.collection_id}.created"


class CollectionChange(Event, frozen=True):
    """A change to an existing collection; `change_id` names it, and is the activity pump.io shows for it."""

    change_id: str
    collection_id: str
    owner: str


class CollectionEdited(CollectionChange, frozen=True, tag="collection.edited"):
    """A collection's name or description changed; None leaves a field as it is."""

    name: str | None = None
    content: str | None = None
    via: str = ""
    app: str = ""

    def subject(self) -> str:
        return f"mx.collection.{self.collection_id}.edited"


class CollectionDeleted(CollectionChange, frozen=True, tag="collection.deleted"):
    """The collection is gone, and with it its membership (the members themselves stay)."""

    via: str = ""
    app: str = ""

    def subject(self) -> str:
        return f"mx.collection.{self.collection_id}.deleted"


class CollectionItem(CollectionChange, frozen=True):
    """A member of a collection, named as a reaction names its object, or a person (`object_id` the user
    id) or another collection."""

    object_type: str
    object_id: str
    via: str = ""
    app: str = ""


class CollectionItemAdded(CollectionItem, frozen=True, tag="collection.added"):
    def subject(self) -> str:
        return f"mx.collection.{self.collection_id}.added"


class CollectionItemRemoved(CollectionItem, frozen=True, tag="collection.removed"):
    def subject(self) -> str:
        return f"mx.collection.{self.collection_id}.removed"


AnyEvent = (
    UserAdded | TokenIssued | MediaUploaded | MediaProcessed | MediaFailed | MediaUpdated | MediaDeleted
    | ClientRegistered | ClientUpdated | AccessGranted | ActivityPosted | MediaRequested | AvatarSet
    | MediaReprocessRequested | TokenRevoked | AppRegistered | PostCreated | PostEdited | PostDeleted
    | MediaThumbnailSet | Reacted | Unreacted | Followed | Unfollowed | CollectionCreated | CollectionEdited
    | CollectionDeleted | CollectionItemAdded | CollectionItemRemoved | UserMadeAdmin
)


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
        try:
            return self._decoder.decode(data)
        except msgspec.ValidationError as exc:
            return self._decode_older(data, exc)

    def decode_many(self, payloads: Sequence[bytes]) -> list[AnyEvent]:
        # One bound method for the whole batch: the per-call lookups cost as much as a small event.
        decode = self._decoder.decode
        try:
            return [decode(data) for data in payloads]
        except msgspec.ValidationError:
            # An older shape fails the typed decode (an upcast event's new field is required), so
            # current-shape batches never leave the line above; a batch holding one goes again,
            # one payload at a time.
            return [self.decode(data) for data in payloads]

    def _decode_older(self, data: bytes, failure: msgspec.ValidationError) -> AnyEvent:
        raw = msgspec.json.decode(data)
        current = upcast(raw) if isinstance(raw, dict) else None
        if current is None:
            raise failure
        # Through JSON again, so an upcast event meets exactly the checks a current one does.
        return self._decoder.decode(self._encoder.encode(current))
