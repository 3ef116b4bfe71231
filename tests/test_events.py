"""Events round-trip through the one codec, and golden samples of every tag keep decoding."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from core.events import (
    AccessGranted,
    ActivityPosted,
    AnyEvent,
    AppRegistered,
    AvatarSet,
    ClientRegistered,
    ClientUpdated,
    Codec,
    CollectionCreated,
    CollectionDeleted,
    CollectionEdited,
    CollectionItemAdded,
    CollectionItemRemoved,
    Focus,
    Followed,
    MediaDeleted,
    MediaFailed,
    MediaMeta,
    MediaProcessed,
    MediaReprocessRequested,
    MediaRequested,
    MediaThumbnailSet,
    MediaUpdated,
    MediaUploaded,
    PostCreated,
    PostDeleted,
    PostEdited,
    Reacted,
    RenditionInfo,
    TokenIssued,
    TokenRevoked,
    Unfollowed,
    Unreacted,
    UserAdded,
    UserMadeAdmin,
    aggregate_filter,
)
from core.upcast import upcast

GOLDEN = Path(__file__).parent / "golden" / "events.jsonl"

SAMPLES: list[AnyEvent] = [
    UserAdded(at=1.5, user_id="alice", password_hash="scrypt$00$11"),
    TokenIssued(at=2.0, token_id="abc", user_id="alice", token_hash="f" * 64, scopes=("read", "write")),
    MediaUploaded(at=3.0, media_id="7", owner_id="alice", blob="a" * 64, size=10, content_type="image/png",
                  width=4, height=3, frames=1, filename="x.png", description="d", focus=Focus(0.5, -0.5),
                  via="mastodon"),
    # Written when each rendition was a field of its own; read through the upcaster.
    MediaProcessed(at=4.0, media_id="7", blob="a" * 64, version=1,
                   renditions=(RenditionInfo("original", 4, 3, "image/png", 100),
                               RenditionInfo("small", 4, 3, "image/png", 90)),
                   blurhash="LEHV6nWB2yk8pyo0adR*.7kCMdnj"),
    MediaFailed(at=5.0, media_id="8", reason="corrupt"),
    MediaUpdated(at=6.0, media_id="7", description="new", focus=None),
    MediaDeleted(at=7.0, media_id="7"),
    # Added with the pump.io gateway; the lines above were written before MediaUpdated's
    # title/license/tags and MediaDeleted's reason existed, and still decode.
    MediaUpdated(at=8.0, media_id="7", title="Heron", license="CC-BY-4.0", tags=("bird", "lake")),
    MediaDeleted(at=9.0, media_id="8", reason="unposted"),
    ClientRegistered(at=10.0, client_id="c1", client_secret="s1", application_type="native",
                     application_name="PyPump", redirect_uris=("oob",)),
    ClientUpdated(at=11.0, client_id="c1", application_name="PyPump 2"),
    AccessGranted(at=12.0, token="t1", secret="ts1", client_id="c1", user_id="alice"),
    ActivityPosted(at=13.0, activity_id="a1", actor="alice", verb="post", object_type="image", object_id="7",
                   display_name="Heron", content="On the lake", license="CC-BY-4.0", tags=("bird",),
                   generator="PyPump"),
    ActivityPosted(at=14.0, activity_id="a2", actor="bob", verb="post", object_type="comment", object_id="c9",
                   content="Nice!", in_reply_to="7", reply_owner="alice"),
    # Added with presigned uploads; ActivityPosted lines above predate attachments and space.
    MediaRequested(at=15.0, media_id="9", owner_id="alice", filename="cat.png", content_type="image/png",
                   max_bytes=10485760, expires_at=915.0),
    ActivityPosted(at=16.0, activity_id="a3", actor="alice", verb="post", object_type="note", object_id="n1",
                   content="Look", attachments=("9",), space="did:example:space"),
    AvatarSet(at=17.0, user_id="alice", media_id="9"),
    # Added with reprocessing.
    MediaReprocessRequested(at=18.0, media_id="8", blob="b" * 64, after=5),
    # Added when the renditions became one list.
    MediaProcessed(at=19.0, media_id="9", blob="c" * 64, version=2,
                   renditions=(RenditionInfo("original", 4, 3, "image/png", 100),
                               RenditionInfo("small", 4, 3, "image/png", 90),
                               RenditionInfo("thumb", 4, 3, "image/png", 80)),
                   blurhash="LEHV6nWB2yk8pyo0adR*.7kCMdnj"),
    # Added with OAuth 2.0 apps: a token names its app, and may be revoked.
    TokenIssued(at=2.5, token_id="abd", user_id="alice", token_hash="e" * 64, scopes=("read",), client_id="c1"),
    TokenRevoked(at=2.6, token_id="abd", token_hash="e" * 64),
    AppRegistered(at=2.7, app_id="101", client_id="c1", secret_hash="d" * 64, name="Heron",
                  website="https://heron.example", redirect_uris=("urn:ietf:wg:oauth:2.0:oob",),
                  scopes=("read", "write")),
    # Added with posts for every protocol.
    PostCreated(at=20.0, post_id="117000000000000001", author="alice", text="Look <here>", attachments=("9",),
                visibility="unlisted", sensitive=True, spoiler_text="birds", language="en", in_reply_to="",
                via="mastodon", app="toot"),
    PostEdited(at=21.0, post_id="117000000000000001", author="alice", text="Look again", attachments=(),
               sensitive=False, spoiler_text="", language="en", detached=("9",), activity_id="117000000000000001-post"),
    PostDeleted(at=22.0, post_id="117000000000000001", author="alice", attachments=(),
                activity_id="117000000000000001-post", note_id="117000000000000001"),
    # Added with pump.io comments as posts and edits as pump.io updates.
    PostCreated(at=23.0, post_id="117000000000000002", author="bob", text="Lovely", in_reply_to="117000000000000001",
                via="pumpio", app="PyPump", comment_on="9", reply_owner="alice"),
    PostEdited(at=24.0, post_id="117000000000000003", author="alice", text="Edited", activity_id="0a1b-post",
               note_id="cafe01"),
    PostEdited(at=25.0, post_id="117000000000000002", author="bob", text="Lovelier", note_id="117000000000000002",
               comment_on="9", reply_owner="alice", app="PyPump"),
    PostDeleted(at=26.0, post_id="117000000000000004", author="bob", note_id="c0ffee01", comment_on="9",
                reply_owner="alice", app="PyPump"),
    MediaUploaded(at=27.0, media_id="20", owner_id="alice", blob="e" * 64, size=4096, content_type="video/webm",
                  width=640, height=360, frames=0, filename="clip.webm", via="mastodon", kind="video"),
    MediaProcessed(at=28.0, media_id="20", blob="e" * 64, version=3, renditions=(
        RenditionInfo(style="original", width=640, height=360, content_type="video/mp4", size=3000),
        RenditionInfo(style="small", width=640, height=360, content_type="image/png", size=900),
        RenditionInfo(style="thumb", width=320, height=180, content_type="image/png", size=300),
    ), blurhash="UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH", kind="video",
        meta=MediaMeta(width=640, height=360, frame_rate="30/1", duration=2.5, bitrate=96000)),
    MediaThumbnailSet(at=29.0, media_id="20", blob="f" * 64, version=3, renditions=(
        RenditionInfo(style="small", width=640, height=360, content_type="image/png", size=800),
        RenditionInfo(style="thumb", width=320, height=180, content_type="image/png", size=200),
    ), blurhash="UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH"),
    MediaReprocessRequested(at=30.0, media_id="21", blob="9" * 64, after=0, kind="audio"),
    # Added with reactions, follows and collections.
    Reacted(at=31.0, reaction_id="r1", actor="bob", kind="favorite", object_type="image", object_id="9",
            object_owner="alice", via="pumpio", app="PyPump"),
    Unreacted(at=32.0, reaction_id="r2", actor="bob", kind="favorite", object_type="image", object_id="9",
              object_owner="alice", via="pumpio"),
    Followed(at=33.0, follow_id="f1", follower="bob", followee="alice", via="pumpio", app="PyPump"),
    Unfollowed(at=34.0, follow_id="f2", follower="bob", followee="alice", via="pumpio"),
    CollectionCreated(at=35.0, collection_id="k1", owner="alice", name="Birds", content="<p>Herons</p>",
                      object_types=("image",), via="pumpio", app="PyPump"),
    CollectionEdited(at=36.0, change_id="k2", collection_id="k1", owner="alice", name="Lake birds"),
    CollectionItemAdded(at=37.0, change_id="k3", collection_id="k1", owner="alice", object_type="image",
                        object_id="9", via="pumpio"),
    CollectionItemRemoved(at=38.0, change_id="k4", collection_id="k1", owner="alice", object_type="image",
                          object_id="9", via="pumpio"),
    CollectionDeleted(at=39.0, change_id="k5", collection_id="k1", owner="alice", via="pumpio"),
    # Added with places: the ActivityPosted lines above predate location.
    ActivityPosted(at=31.0, activity_id="a4", actor="alice", verb="update", object_type="image", object_id="7",
                   location='{"objectType":"place","displayName":"Loch Ness","position":{"latitude":57.3,'
                            '"longitude":-4.45}}'),
    # Added with the operator console: the first line, written before, decodes as no admin.
    UserAdded(at=40.0, user_id="grace", password_hash="scrypt$22$33", admin=True),
    UserMadeAdmin(at=41.0, user_id="alice"),
]


def test_every_event_round_trips() -> None:
    codec = Codec()
    for event in SAMPLES:
        assert codec.decode(codec.encode(event)) == event


def test_golden_samples_still_decode() -> None:
    codec = Codec()
    lines = GOLDEN.read_text().splitlines()
    decoded = [codec.decode(line.encode()) for line in lines]
    assert decoded == SAMPLES
    tags = {json.loads(line)["type"] for line in lines}
    assert tags == {"user.added", "token.issued", "media.uploaded", "media.processed", "media.failed",
                    "media.updated", "media.deleted", "client.registered", "client.updated", "oauth.granted",
                    "activity.posted", "media.requested", "identity.avatar", "media.reprocess",
                    "token.revoked", "app.registered", "post.created", "post.edited", "post.deleted",
                    "media.thumbnail", "reaction.added", "reaction.removed", "follow.added", "follow.removed",
                    "collection.created", "collection.edited", "collection.added", "collection.removed",
                    "collection.deleted", "user.admin"}


def test_fields_added_later_have_defaults() -> None:
    # An upload written before frames/filename/description/focus/via existed still decodes.
    old = b'{"type":"media.uploaded","at":1.0,"media_id":"1","owner_id":"a","blob":"' + b"b" * 64 + (
        b'","size":1,"content_type":"image/png","width":1,"height":1}'
    )
    event = Codec().decode(old)
    assert isinstance(event, MediaUploaded)
    assert (event.frames, event.filename, event.focus, event.via) == (1, "", None, "")


def test_a_user_added_before_admins_is_not_one() -> None:
    first = Codec().decode(GOLDEN.read_text().splitlines()[0].encode())
    assert isinstance(first, UserAdded) and first.user_id == "alice" and first.admin is False
    assert isinstance(SAMPLES[-2], UserAdded) and SAMPLES[-2].admin is True


def test_unknown_tag_is_refused() -> None:
    with pytest.raises(msgspec.ValidationError):
        Codec().decode(b'{"type":"media.exploded","at":1.0}')


def test_events_are_frozen() -> None:
    with pytest.raises(AttributeError):
        SAMPLES[0].user_id = "mallory"  # type: ignore[misc]


def test_subjects_name_the_aggregate() -> None:
    assert SAMPLES[2].subject() == "mx.media.7.uploaded"
    assert SAMPLES[3].subject() == SAMPLES[4].subject().replace(".8.", ".7.") == "mx.media.7.outcome"
    assert aggregate_filter("mx.media.7.updated") == "mx.media.7.>"
    assert SAMPLES[17].subject() == "mx.media.8.reprocess"
    assert [e.subject() for e in SAMPLES[19:22]] == ["mx.token.abd.issued", "mx.token.abd.revoked",
                                                      "mx.app.c1.registered"]
    assert SAMPLES[24].subject() == "mx.post.117000000000000001.deleted"
    # A custom preview is a subject of the media's own, apart from its outcome.
    assert [e.subject() for e in SAMPLES[29:33]] == ["mx.media.20.uploaded", "mx.media.20.outcome",
                                                  "mx.media.20.thumbnail", "mx.media.21.reprocess"]
    assert SAMPLES[42].subject() == "mx.activity.a4.posted"


OLDER_LOG = GOLDEN.with_name("older-log.jsonl")
CURRENT_LOG = GOLDEN.with_name("current-log.jsonl")


def golden_lines(path: Path) -> list[bytes]:
    return [line.encode() for line in path.read_text().splitlines()]


def test_older_shapes_decode_to_the_events_the_current_shapes_hold() -> None:
    codec = Codec()
    older, current = golden_lines(OLDER_LOG), golden_lines(CURRENT_LOG)
    assert len(older) == len(current) == 10
    assert [codec.decode(line) for line in older] == [codec.decode(line) for line in current]
    # The current shape is what gets written: re-encoding an older event gives its current line.
    assert [codec.encode(codec.decode(line)) for line in older] == current


def test_the_current_shape_takes_only_the_typed_decode() -> None:
    typed = msgspec.json.Decoder(AnyEvent)
    for line in golden_lines(CURRENT_LOG):
        typed.decode(line)
        assert upcast(json.loads(line)) is None
    older_processed = [line for line in golden_lines(OLDER_LOG) if b'"media.processed"' in line]
    assert len(older_processed) == 3
    for line in older_processed:
        # Only the upcaster reads these: the typed decoder alone refuses them, not guessing a default.
        with pytest.raises(msgspec.ValidationError, match="renditions"):
            typed.decode(line)


def test_thumb_written_as_null_or_left_out_upcasts_to_no_thumb() -> None:
    codec = Codec()
    by_media = {e.media_id: e for e in codec.decode_many(golden_lines(OLDER_LOG)) if isinstance(e, MediaProcessed)}
    assert [info.style for info in by_media["m1"].renditions] == ["original", "small"]
    assert [info.style for info in by_media["m2"].renditions] == ["original", "small", "thumb"]
    assert [info.style for info in by_media["m3"].renditions] == ["original", "small"]
    assert by_media["m3"].by_style().get("thumb") is None
    thumb = by_media["m2"].by_style().get("thumb")
    assert thumb is not None and (thumb.width, thumb.height) == (320, 240)


def test_a_batch_mixing_shapes_decodes_in_order() -> None:
    codec = Codec()
    older, current = golden_lines(OLDER_LOG), golden_lines(CURRENT_LOG)
    mixed = [line for pair in zip(older, current, strict=True) for line in pair]
    decoded = codec.decode_many(mixed)
    assert decoded[0::2] == decoded[1::2] == [codec.decode(line) for line in current]


def test_a_payload_no_shape_explains_keeps_its_own_error() -> None:
    codec = Codec()
    # Missing a field no upcaster supplies: refused as the typed decoder refused it.
    with pytest.raises(msgspec.ValidationError, match="blob"):
        codec.decode(b'{"type":"media.uploaded","at":1.0,"media_id":"1","owner_id":"a","size":1,'
                     b'"content_type":"image/png","width":1,"height":1}')
    # An older media.processed that lacks a rendition is not made whole by guessing.
    with pytest.raises(msgspec.ValidationError, match="renditions"):
        codec.decode_many([b'{"type":"media.processed","at":1.0,"media_id":"1","blob":"b","version":1,'
                           b'"original":{"style":"original","width":1,"height":1,"content_type":"image/png",'
                           b'"size":1},"blurhash":"x"}'])
    # An upcast event still meets every check of the current shape.
    with pytest.raises(msgspec.ValidationError, match="width"):
        codec.decode(b'{"type":"media.processed","at":1.0,"media_id":"1","blob":"b","version":1,'
                     b'"original":{"style":"original","width":"wide","height":1,"content_type":"image/png",'
                     b'"size":1},"small":{"style":"small","width":1,"height":1,"content_type":"image/png",'
                     b'"size":1},"blurhash":"x"}')
    with pytest.raises(msgspec.DecodeError):
        codec.decode(b'{"type":"media.processed",')
