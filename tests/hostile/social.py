"""Hostile requests on pump.io's social routes: notes, favorites and shares, follows, collections, REST on
objects, the major and minor feeds, and the collections they are listed in.

Beyond the placeholders of tests/hostile/cases.py, targets and bodies may name {base} (the public URL ids
start with) and {host} (what `acct:` ids end with), and what the corpus server's users posted through
pump.io: {image} (alice's posted image), {others_image} (bob's), {note} and {others_note}, {collection}
(alice's, holding {inner} and {others_image}), {inner} (a collection of alice's inside {collection}) and
{others_collection}. alice has favorited, shared and follows what bob posted, so doing it again is refused.
"""

from __future__ import annotations

from collections.abc import Iterator

from gateways.pumpio import activities, collections, feed, follows, notes, paging, reactions, rest, verbs
from gateways.pumpio.objects import NO_COMMENT, NO_IMAGE, NO_NOTE
from gateways.pumpio.users import NOT_YOUR_FEED
from tests.hostile.cases import DEEP, DEEP_OBJECT, FORM, JSON, Case, dumps

FEED = "/api/user/{user}/feed"


def ref(object_type: str, local: str) -> dict[str, str]:
    return {"objectType": object_type, "id": f"{{base}}/api/{object_type}/{local}"}


def act(verb: str, obj: object, **extra: object) -> bytes:
    return dumps({"verb": verb, "object": obj, **extra})


def note(**fields: object) -> bytes:
    return act("post", {"objectType": "note", "content": "hello", **fields})


def attaching(*items: object) -> bytes:
    return note(attachments=list(items))


STRING = "'{}' must be a string"
TOO_LONG = "'{}' is too long (maximum is {} characters)"
MINE = ref("image", "{image}")
THEIRS = ref("image", "{others_image}")
BOB = {"objectType": "person", "id": "acct:{other}@{host}"}
TARGET = ref("collection", "{collection}")

Row = tuple[str, bytes, int, str | None]

NOTES: list[Row] = [
    ("content-number", note(content=5), 400, STRING.format("content")),
    ("content-list", note(content=["a"]), 400, STRING.format("content")),
    ("content-object", note(content={"a": 1}), 400, STRING.format("content")),
    ("content-true", note(content=True), 400, STRING.format("content")),
    ("content-1501", note(content="c" * 1501), 400, TOO_LONG.format("content", 1500)),
    ("content-null", note(content=None), 400, notes.EMPTY_NOTE),
    ("content-empty", note(content=""), 400, notes.EMPTY_NOTE),
    ("content-blank", note(content=" \n\t "), 400, notes.EMPTY_NOTE),
    ("content-only-script", note(content="<script>alert(1)</script>"), 400, notes.EMPTY_NOTE),
    ("display-name-number", note(displayName=5), 400, STRING.format("displayName")),
    ("display-name-list", note(displayName=["a"]), 400, STRING.format("displayName")),
    ("display-name-object", note(displayName={"a": 1}), 400, STRING.format("displayName")),
    ("display-name-256", note(displayName="n" * 256), 400, TOO_LONG.format("displayName", 255)),
    ("attachments-string", note(attachments="{base}/api/image/{media}"), 400, notes.BAD_ATTACHMENTS),
    ("attachments-number", note(attachments=5), 400, notes.BAD_ATTACHMENTS),
    ("attachments-object", note(attachments=ref("image", "{media}")), 400, notes.BAD_ATTACHMENTS),
    ("attachments-strings", attaching("{base}/api/image/{media}"), 400, notes.BAD_ATTACHMENTS),
    ("attachments-numbers", attaching(1, 2), 400, notes.BAD_ATTACHMENTS),
    ("attachments-nulls", attaching(None), 400, notes.BAD_ATTACHMENTS),
    ("attachments-nested", attaching([ref("image", "{media}")]), 400, notes.BAD_ATTACHMENTS),
    ("attachments-no-id", attaching({"objectType": "image"}), 400, notes.BAD_ATTACHMENTS),
    ("attachments-id-number", attaching({"objectType": "image", "id": 5}), 400, notes.BAD_ATTACHMENTS),
    ("attachments-five", attaching(*[ref("image", str(n)) for n in range(5)]), 400, notes.BAD_ATTACHMENTS),
    ("attachments-fifty", attaching(*[ref("image", "{media}")] * 50), 400, notes.BAD_ATTACHMENTS),
    ("attachments-unknown", attaching(ref("image", "nope")), 404, notes.NO_MEDIA),
    ("attachments-others-unposted", attaching(ref("image", "{others_media}")), 404, notes.NO_MEDIA),
    ("attachments-others-posted", attaching(THEIRS), 403, notes.NOT_YOUR_MEDIA),
    ("attachments-already-posted", attaching(MINE), 400, notes.ATTACHED),
    ("attachments-repeated", attaching(ref("image", "{media}"), ref("image", "{media}")), 400, notes.REPEATED),
    ("attachments-other-server", attaching({"objectType": "image", "id": "https://elsewhere.example/api/image/{media}"}),
     404, notes.NO_MEDIA),
    ("attachments-traversal", attaching({"objectType": "image", "id": "{base}/api/image/../../../etc/passwd"}), 404,
     notes.NO_MEDIA),
    ("attachments-image-as-video", attaching(ref("video", "{media}")), 404, notes.NO_MEDIA),
    ("attachments-a-note", attaching(ref("note", "{note}")), 404, notes.NO_MEDIA),
    ("attachments-type-number", attaching({"objectType": 5, "id": "{base}/api/image/{media}"}), 404, notes.NO_MEDIA),
    ("attachments-awaiting-bytes", attaching(ref("image", "{pending}")), 404, notes.NO_MEDIA),
    ("deep-object", b'{"verb": "post", "object": ' + DEEP_OBJECT + b"}", 400, None),
    ("update-unknown", act("update", ref("note", "nope") | {"content": "x"}), 404, NO_NOTE),
    ("update-others", act("update", ref("note", "{others_note}") | {"content": "x"}), 403,
     verbs.only_author("update", "note")),
    ("delete-others", act("delete", ref("note", "{others_note}")), 403, verbs.only_author("delete", "note")),
    ("update-no-id", act("update", {"objectType": "note", "content": "x"}), 400, verbs.NO_OBJECT_ID),
    ("update-id-number", act("update", {"objectType": "note", "id": 5, "content": "x"}), 404, NO_NOTE),
    ("update-id-other-server", act("update", {"objectType": "note", "id": "https://elsewhere.example/api/note/{note}",
                                              "content": "x"}), 404, NO_NOTE),
    ("update-id-traversal", act("update", {"objectType": "note", "id": "{base}/api/note/../image/{image}"}), 404,
     NO_NOTE),
    ("update-id-an-image", act("update", {"objectType": "note", "id": "{base}/api/image/{image}"}), 404, NO_NOTE),
    ("update-content-number", act("update", ref("note", "{note}") | {"content": 5}), 400, STRING.format("content")),
    ("update-content-empty", act("update", ref("note", "{note}") | {"content": ""}), 400, notes.EMPTY_NOTE),
    ("update-content-1501", act("update", ref("note", "{note}") | {"content": "c" * 1501}), 400,
     TOO_LONG.format("content", 1500)),
    ("delete-unknown", act("delete", ref("note", "nope")), 404, NO_NOTE),
]


def comment(in_reply_to: object, **fields: object) -> bytes:
    return act("post", {"objectType": "comment", "content": "hi", "inReplyTo": in_reply_to, **fields})


# Comments on notes: a note is found as the note it is, and a comment on a comment is refused.
COMMENTS: list[Row] = [
    ("note-unknown", comment(ref("note", "nope")), 404, NO_NOTE),
    ("note-unknown-bare-id", comment("{base}/api/note/nope"), 404, NO_NOTE),
    ("note-other-server", comment({"objectType": "note", "id": "https://elsewhere.example/api/note/{note}"}), 404,
     NO_NOTE),
    ("note-traversal", comment({"objectType": "note", "id": "{base}/api/note/../image/{image}"}), 404, NO_NOTE),
    ("note-id-an-image", comment({"objectType": "note", "id": "{base}/api/image/{image}"}), 404, NO_NOTE),
    ("note-id-a-collection", comment({"objectType": "note", "id": "{base}/api/collection/{collection}"}), 404,
     NO_NOTE),
    ("note-id-number", comment({"objectType": "note", "id": 5}), 404, NO_NOTE),
    ("note-id-null", comment({"objectType": "note", "id": None}), 404, NO_NOTE),
    ("note-id-400-digits", comment(ref("note", "9" * 400)), 404, NO_NOTE),
    ("note-named-as-image", comment({"objectType": "image", "id": "{base}/api/note/{others_note}"}), 404, NO_IMAGE),
    ("note-no-id", comment({"objectType": "note"}), 400, activities.NO_REPLY_TARGET),
    ("note-content-number", comment(ref("note", "{others_note}"), content=5), 400, STRING.format("content")),
    ("note-content-1501", comment(ref("note", "{others_note}"), content="c" * 1501), 400,
     TOO_LONG.format("content", 1500)),
    ("a-comment", comment(ref("comment", "nope")), 400, activities.ONLY_REPLIES_TO),
    ("a-comment-bare-id", comment("{base}/api/comment/nope"), 400, activities.ONLY_REPLIES_TO),
    ("a-comment-as-note", comment({"objectType": "note", "id": "{base}/api/comment/nope"}), 400,
     activities.ONLY_REPLIES_TO),
    ("a-collection", comment(TARGET), 400, activities.ONLY_REPLIES_TO),
    ("a-person", comment(BOB), 400, activities.ONLY_REPLIES_TO),
    ("type-number", comment({"objectType": 5, "id": "{base}/api/note/{note}"}), 400, activities.ONLY_REPLIES_TO),
    ("in-reply-to-number", comment(5), 400, activities.NO_REPLY_TARGET),
    ("in-reply-to-list", comment([ref("note", "{note}")]), 400, activities.NO_REPLY_TARGET),
]

REACTIONS: list[Row] = [
    ("favorite-person", act("favorite", BOB), 400, reactions.cannot("favorite", "person")),
    ("like-collection", act("like", TARGET), 400, reactions.cannot("like", "collection")),
    ("share-person", act("share", BOB), 400, reactions.cannot("share", "person")),
    ("unshare-collection", act("unshare", ref("collection", "{others_collection}")), 400,
     reactions.cannot("unshare", "collection")),
    ("favorite-unknown-image", act("favorite", ref("image", "nope")), 404, NO_IMAGE),
    ("favorite-others-unposted", act("favorite", ref("image", "{others_media}")), 404, NO_IMAGE),
    ("favorite-own-unposted", act("favorite", ref("image", "{media}")), 400, reactions.only_posted("favorite")),
    ("share-own-unposted", act("share", ref("image", "{media}")), 400, reactions.only_posted("share")),
    ("favorite-again", act("favorite", THEIRS), 400, reactions.ALREADY["favorite"]),
    ("like-again", act("like", THEIRS), 400, reactions.ALREADY["favorite"]),
    ("share-again", act("share", THEIRS), 400, reactions.ALREADY["share"]),
    ("unfavorite-not-favorited", act("unfavorite", MINE), 400, reactions.NOT_YET["favorite"]),
    ("unlike-note-not-liked", act("unlike", ref("note", "{others_note}")), 400, reactions.NOT_YET["favorite"]),
    ("unshare-not-shared", act("unshare", MINE), 400, reactions.NOT_YET["share"]),
    ("favorite-no-id", act("favorite", {"objectType": "image"}), 400, verbs.NO_OBJECT_ID),
    ("favorite-id-number", act("favorite", {"objectType": "image", "id": 5}), 404, NO_IMAGE),
    ("favorite-id-list", act("favorite", {"objectType": "image", "id": ["{base}/api/image/{others_image}"]}), 404,
     NO_IMAGE),
    ("favorite-id-null", act("favorite", {"objectType": "note", "id": None}), 404, NO_NOTE),
    ("favorite-other-server", act("favorite", {"objectType": "image",
                                               "id": "https://elsewhere.example/api/image/{others_image}"}), 404,
     NO_IMAGE),
    ("favorite-traversal", act("favorite", {"objectType": "image", "id": "{base}/api/image/..%2F..%2Fetc"}), 404,
     NO_IMAGE),
    ("favorite-image-as-video", act("favorite", ref("video", "{others_image}")), 404, NO_IMAGE),
    ("favorite-unknown-note", act("favorite", ref("note", "nope")), 404, NO_NOTE),
    ("share-unknown-comment", act("share", ref("comment", "nope")), 404, NO_COMMENT),
    ("favorite-no-object-type", act("favorite", {"id": "{base}/api/image/{others_image}"}), 400, verbs.NO_OBJECT_TYPE),
    ("favorite-object-type-number", act("favorite", {"objectType": 5, "id": "x"}), 400, verbs.unknown_type(5)),
    ("favorite-object-type-activity", act("favorite", {"objectType": "activity", "id": "x"}), 400,
     verbs.unknown_type("activity")),
    ("favorite-object-string", act("favorite", "{base}/api/image/{others_image}"), 400, verbs.INVALID_ACTIVITY),
    ("favorite-object-list", act("favorite", [THEIRS]), 400, verbs.INVALID_ACTIVITY),
    ("favorite-no-object", dumps({"verb": "favorite"}), 400, verbs.INVALID_ACTIVITY),
    ("verb-100k", act("f" * 100_000, THEIRS), 400, verbs.NOT_IMPLEMENTED),
]


def person(value: object) -> bytes:
    return act("follow", {"objectType": "person", "id": value})


FOLLOWS: list[Row] = [
    ("collection", act("follow", TARGET), 400, follows.ONLY_PEOPLE),
    ("image", act("follow", THEIRS), 400, follows.ONLY_PEOPLE),
    ("stop-following-note", act("stop-following", ref("note", "{others_note}")), 400, follows.ONLY_PEOPLE),
    ("again", act("follow", BOB), 400, follows.ALREADY),
    ("self", person("acct:{user}@{host}"), 400, follows.YOURSELF),
    ("self-by-profile", person("{base}/api/user/{user}/profile"), 400, follows.YOURSELF),
    ("stop-following-not-followed", act("stop-following", {"objectType": "person", "id": "acct:{user}@{host}"}),
     400, follows.NOT_YET),
    ("remote-acct", person("acct:{other}@elsewhere.example"), 400, follows.REMOTE),
    ("remote-url", person("https://elsewhere.example/api/user/{other}"), 400, follows.REMOTE),
    ("unknown", person("acct:nobody@{host}"), 404, "No such user: nobody"),
    ("acct-no-name", person("acct:@{host}"), 400, follows.NOT_A_PERSON),
    ("acct-no-at", person("acct:{other}"), 400, follows.NOT_A_PERSON),
    ("acct-only", person("acct:"), 400, follows.NOT_A_PERSON),
    ("acct-two-ats", person("acct:{other}@x@{host}"), 404, "No such user: {other}@x"),
    ("acct-nul", person("acct:bo\u0000b@{host}"), 404, "No such user: bo\u0000b"),
    ("acct-traversal", person("acct:../../etc/passwd@{host}"), 404, "No such user: ../../etc/passwd"),
    ("acct-unicode", person("acct:b\u00f3b@{host}"), 404, "No such user: b\u00f3b"),
    ("acct-space", person("acct:b b@{host}"), 404, "No such user: b b"),
    ("acct-crlf", person("acct:b\r\nb@{host}"), 404, None),
    ("acct-5000", person("acct:" + "a" * 5000 + "@{host}"), 404, None),
    ("acct-percent", person("acct:%62ob@{host}"), 404, "No such user: %62ob"),
    ("id-number", person(5), 400, follows.NOT_A_PERSON),
    ("id-empty", person(""), 400, follows.NOT_A_PERSON),
    ("id-list", person(["acct:{other}@{host}"]), 400, follows.NOT_A_PERSON),
    ("id-object", person({"id": "acct:{other}@{host}"}), 400, follows.NOT_A_PERSON),
    ("profile-url-feed", person("{base}/api/user/{other}/feed"), 400, follows.NOT_A_PERSON),
    ("profile-url-empty-name", person("{base}/api/user/"), 400, follows.NOT_A_PERSON),
    ("javascript-url", person("javascript:alert(1)"), 400, follows.NOT_A_PERSON),
    ("mailto", person("mailto:{other}@{host}"), 400, follows.NOT_A_PERSON),
    ("no-id", act("follow", {"objectType": "person"}), 400, verbs.NO_OBJECT_ID),
    ("post-a-person", act("post", BOB), 400, verbs.unknown_type("person")),
    ("delete-a-person", act("delete", BOB), 400, verbs.unknown_type("person")),
]


def collection(**fields: object) -> bytes:
    return act("post", {"objectType": "collection", "displayName": "Birds", **fields})


def membership(verb: str, obj: object, target: object = TARGET, **extra: object) -> bytes:
    return act(verb, obj, target=target, **extra)


COLLECTIONS: list[Row] = [
    ("display-name-number", collection(displayName=5), 400, STRING.format("displayName")),
    ("display-name-list", collection(displayName=["a"]), 400, STRING.format("displayName")),
    ("display-name-object", collection(displayName={"a": 1}), 400, STRING.format("displayName")),
    ("display-name-256", collection(displayName="n" * 256), 400, TOO_LONG.format("displayName", 255)),
    ("content-number", collection(content=5), 400, STRING.format("content")),
    ("content-1501", collection(content="c" * 1501), 400, TOO_LONG.format("content", 1500)),
    ("object-types-string", collection(objectTypes="image"), 400, collections.BAD_OBJECT_TYPES),
    ("object-types-number", collection(objectTypes=5), 400, collections.BAD_OBJECT_TYPES),
    ("object-types-numbers", collection(objectTypes=[1, 2]), 400, collections.BAD_OBJECT_TYPES),
    ("object-types-object", collection(objectTypes={"image": True}), 400, collections.BAD_OBJECT_TYPES),
    ("object-types-21", collection(objectTypes=[f"t{n}" for n in range(21)]), 400, collections.BAD_OBJECT_TYPES),
    ("object-types-empty-string", collection(objectTypes=[""]), 400, collections.BAD_OBJECT_TYPES),
    ("object-types-101", collection(objectTypes=["t" * 101]), 400, collections.BAD_OBJECT_TYPES),
    ("object-types-nested", collection(objectTypes=[["image"]]), 400, collections.BAD_OBJECT_TYPES),
    ("update-unknown", act("update", ref("collection", "nope")), 404, collections.NO_COLLECTION),
    ("update-others", act("update", ref("collection", "{others_collection}") | {"displayName": "x"}), 403,
     verbs.only_author("update", "collection")),
    ("delete-others", act("delete", ref("collection", "{others_collection}")), 403,
     verbs.only_author("delete", "collection")),
    ("delete-no-id", act("delete", {"objectType": "collection"}), 400, verbs.NO_OBJECT_ID),
    ("update-id-other-server", act("update", {"objectType": "collection",
                                              "id": "https://elsewhere.example/api/collection/{collection}"}), 404,
     collections.NO_COLLECTION),
    ("update-id-traversal", act("update", {"objectType": "collection", "id": "{base}/api/collection/../note/{note}"}),
     404, collections.NO_COLLECTION),
    ("update-display-name-number", act("update", TARGET | {"displayName": 5}), 400, STRING.format("displayName")),
    ("add-no-target", act("add", THEIRS), 400, collections.NO_TARGET),
    ("add-target-string", membership("add", THEIRS, "{base}/api/collection/{collection}"), 400, collections.NO_TARGET),
    ("add-target-number", membership("add", THEIRS, 5), 400, collections.NO_TARGET),
    ("add-target-list", membership("add", THEIRS, [TARGET]), 400, collections.NO_TARGET),
    ("add-target-null", membership("add", THEIRS, None), 400, collections.NO_TARGET),
    ("add-target-person", membership("add", THEIRS, BOB), 400, collections.NOT_A_COLLECTION),
    ("add-target-image", membership("add", THEIRS, MINE), 400, collections.NOT_A_COLLECTION),
    ("add-target-no-type", membership("add", THEIRS, {"id": "{base}/api/collection/{collection}"}), 400,
     collections.NOT_A_COLLECTION),
    ("add-target-unknown", membership("add", THEIRS, ref("collection", "nope")), 404, collections.NO_COLLECTION),
    ("add-target-others", membership("add", MINE, ref("collection", "{others_collection}")), 403,
     collections.NOT_YOUR_COLLECTION),
    ("add-target-no-id", membership("add", THEIRS, {"objectType": "collection"}), 400, verbs.NO_OBJECT_ID),
    ("add-target-other-server", membership("add", THEIRS, {"objectType": "collection",
                                                            "id": "https://elsewhere.example/api/collection/x"}),
     404, collections.NO_COLLECTION),
    ("add-already-in", membership("add", THEIRS), 400, collections.ALREADY_IN),
    ("remove-not-in", membership("remove", MINE), 400, collections.NOT_IN),
    ("remove-no-target", act("remove", THEIRS), 400, collections.NO_TARGET),
    ("add-into-itself", membership("add", TARGET), 400, collections.CYCLE),
    ("add-cycle", membership("add", TARGET, ref("collection", "{inner}")), 400, collections.CYCLE),
    ("add-unknown-image", membership("add", ref("image", "nope")), 404, NO_IMAGE),
    ("add-own-unposted", membership("add", ref("image", "{media}")), 400, collections.UNPOSTED),
    ("add-others-unposted", membership("add", ref("image", "{others_media}")), 404, NO_IMAGE),
    ("add-image-as-audio", membership("add", ref("audio", "{image}")), 404, NO_IMAGE),
    ("add-unknown-person", membership("add", {"objectType": "person", "id": "acct:nobody@{host}"}), 404,
     collections.NO_PERSON),
    ("add-remote-person", membership("add", {"objectType": "person", "id": "acct:{other}@elsewhere.example"}), 404,
     collections.NO_PERSON),
    ("add-person-id-number", membership("add", {"objectType": "person", "id": 5}), 404, collections.NO_PERSON),
    ("add-person-acct-only", membership("add", {"objectType": "person", "id": "acct:@{host}"}), 404,
     collections.NO_PERSON),
    ("add-unknown-note", membership("add", ref("note", "nope")), 404, NO_NOTE),
    ("add-unknown-comment", membership("add", ref("comment", "nope")), 404, NO_COMMENT),
    ("add-unknown-collection", membership("add", ref("collection", "nope")), 404, collections.NO_COLLECTION),
    ("add-unknown-object-type", membership("add", {"objectType": "spaceship", "id": "x"}), 400,
     verbs.unknown_type("spaceship")),
    ("add-object-no-id", membership("add", {"objectType": "image"}), 400, verbs.NO_OBJECT_ID),
]

# Routes of the major and minor feeds: what reaches each is refused as the feed's own would be.
MAJOR_MINOR: list[tuple[str, str, bytes, int, str | None]] = [
    ("major-comment", "major", act("post", {"objectType": "comment", "content": "x", "inReplyTo": THEIRS}), 400,
     feed.ONLY_MAJOR),
    ("major-favorite", "major", act("favorite", THEIRS), 400, feed.ONLY_MAJOR),
    ("major-collection", "major", collection(), 400, feed.ONLY_MAJOR),
    ("minor-note", "minor", note(), 400, feed.ONLY_MINOR),
    ("minor-share", "minor", act("share", THEIRS), 400, feed.ONLY_MINOR),
    ("minor-object-string", "minor", act("post", "x"), 400, feed.ONLY_MINOR),
    ("major-malformed", "major", b'{"verb": ', 400, feed.BAD_JSON),
    ("minor-array", "minor", b'["post"]', 400, verbs.INVALID_ACTIVITY),
    ("major-deep", "major", DEEP, 400, None),
    ("major-object-string", "major", act("post", "x"), 400, verbs.INVALID_ACTIVITY),
    ("major-note-content-number", "major", note(content=5), 400, STRING.format("content")),
    ("minor-favorite-again", "minor", act("favorite", THEIRS), 400, reactions.ALREADY["favorite"]),
]


def feed_cases() -> Iterator[Case]:
    for table, rows in (("note", NOTES), ("comment", COMMENTS), ("reaction", REACTIONS), ("follow", FOLLOWS),
                        ("collection", COLLECTIONS)):
        for name, body, status, error in rows:
            yield Case(f"pumpio-{table}-{name}", "POST", FEED, "pumpio", headers=(JSON,), body=body, auth="oauth",
                       status=status, error=error)
    for name, stream, body, status, error in MAJOR_MINOR:
        yield Case(f"pumpio-feed-{name}", "POST", f"{FEED}/{stream}", "pumpio", headers=(JSON,), body=body,
                   auth="oauth", status=status, error=error)
    for stream in ("major", "minor"):
        yield Case(f"pumpio-feed-{stream}-other-user", "POST", f"/api/user/{{other}}/feed/{stream}", "pumpio",
                   headers=(JSON,), body=note(), auth="oauth", status=403, error=NOT_YOUR_FEED)
        yield Case(f"pumpio-feed-{stream}-unsigned", "POST", f"{FEED}/{stream}", "pumpio", headers=(JSON,),
                   body=note(), status=401)


PUT = (b"Content-Type", b"application/json")
REST: list[tuple[str, str, str, tuple[tuple[bytes, bytes], ...], bytes, int, str | None]] = [
    ("put-note-array", "PUT", "/api/note/{note}", (PUT,), b'["content"]', 400, rest.NOT_AN_OBJECT),
    ("put-note-string", "PUT", "/api/note/{note}", (PUT,), b'"content"', 400, rest.NOT_AN_OBJECT),
    ("put-note-number", "PUT", "/api/note/{note}", (PUT,), b"5", 400, rest.NOT_AN_OBJECT),
    ("put-note-null", "PUT", "/api/note/{note}", (PUT,), b"null", 400, rest.NOT_AN_OBJECT),
    ("put-note-malformed", "PUT", "/api/note/{note}", (PUT,), b'{"content": ', 400, feed.BAD_JSON),
    ("put-note-empty-body", "PUT", "/api/note/{note}", (PUT,), b"", 400, feed.BAD_JSON),
    ("put-note-deep", "PUT", "/api/note/{note}", (PUT,), DEEP_OBJECT, 400, None),
    ("put-note-form", "PUT", "/api/note/{note}", (FORM,), b"content=x", 400, feed.BAD_JSON),
    ("put-note-text-plain", "PUT", "/api/note/{note}", ((b"Content-Type", b"text/plain"),), b"content: x", 400,
     feed.BAD_JSON),
    ("put-note-no-content-type", "PUT", "/api/note/{note}", (), b"x", 400, feed.BAD_JSON),
    ("put-note-unknown-charset", "PUT", "/api/note/{note}",
     ((b"Content-Type", b"application/json; charset=x-no-such-charset"),), b'{"content": "x"}', 415, None),
    ("put-note-300k", "PUT", "/api/note/{note}", (PUT,), dumps({"content": "c" * 300_000}), 413, None),
    ("put-note-content-number", "PUT", "/api/note/{note}", (PUT,), b'{"content": 5}', 400, STRING.format("content")),
    ("put-note-content-empty", "PUT", "/api/note/{note}", (PUT,), b'{"content": ""}', 400, notes.EMPTY_NOTE),
    ("put-note-others", "PUT", "/api/note/{others_note}", (PUT,), b'{"content": "x"}', 403,
     verbs.only_author("update", "note")),
    ("delete-note-others", "DELETE", "/api/note/{others_note}", (), b"", 403, verbs.only_author("delete", "note")),
    ("put-note-unknown", "PUT", "/api/note/nope", (PUT,), b'{"content": "x"}', 404, NO_NOTE),
    ("delete-note-unknown", "DELETE", "/api/note/nope", (), b"", 404, NO_NOTE),
    ("delete-note-traversal", "DELETE", "/api/note/..%2F..%2Fetc%2Fpasswd", (), b"", 404, NO_NOTE),
    ("delete-note-400-digits", "DELETE", "/api/note/" + "9" * 400, (), b"", 404, NO_NOTE),
    ("delete-note-nul", "DELETE", "/api/note/a%00b", (), b"", 404, NO_NOTE),
    ("put-collection-others", "PUT", "/api/collection/{others_collection}", (PUT,), b'{"displayName": "x"}', 403,
     verbs.only_author("update", "collection")),
    ("delete-collection-others", "DELETE", "/api/collection/{others_collection}", (), b"", 403,
     verbs.only_author("delete", "collection")),
    ("delete-collection-unknown", "DELETE", "/api/collection/nope", (), b"", 404, collections.NO_COLLECTION),
    ("put-collection-display-name-number", "PUT", "/api/collection/{collection}", (PUT,), b'{"displayName": 5}', 400,
     STRING.format("displayName")),
    ("put-collection-array", "PUT", "/api/collection/{collection}", (PUT,), b"[]", 400, rest.NOT_AN_OBJECT),
    ("put-collection-unicode-id", "PUT", "/api/collection/%C3%A9", (PUT,), b"{}", 404, collections.NO_COLLECTION),
    ("put-image-others", "PUT", "/api/image/{others_image}", (PUT,), b'{"content": "x"}', 403,
     verbs.only_author("update", "image")),
    ("delete-image-others", "DELETE", "/api/image/{others_image}", (), b"", 403, verbs.only_author("delete", "image")),
    ("delete-image-others-unposted", "DELETE", "/api/image/{others_media}", (), b"", 404, NO_IMAGE),
    ("put-image-unposted", "PUT", "/api/image/{media}", (PUT,), b'{"content": "x"}', 400, "Post the image before "
                                                                                          "updating it."),
    ("delete-image-as-video", "DELETE", "/api/video/{image}", (), b"", 404, NO_IMAGE),
    ("put-image-content-list", "PUT", "/api/image/{image}", (PUT,), b'{"content": ["x"]}', 400,
     STRING.format("content")),
    ("delete-comment-unknown", "DELETE", "/api/comment/nope", (), b"", 404, NO_COMMENT),
]


def rest_cases() -> Iterator[Case]:
    for name, method, target, headers, body, status, error in REST:
        yield Case(f"pumpio-rest-{name}", method, target, "pumpio", headers=headers, body=body, auth="oauth",
                   status=status, error=error)
    # Bodies that announce more than they send, or more than the cap: refused before any of it is read as JSON.
    yield Case("pumpio-rest-put-note-cut-short", "PUT", "/api/note/{note}", "pumpio",
               headers=(PUT, (b"Content-Length", b"100000")), body=b'{"content": "x', auth="oauth", close_write=True)
    yield Case("pumpio-rest-put-note-declared-1mib", "PUT", "/api/note/{note}", "pumpio",
               headers=(PUT, (b"Content-Length", b"1048576")), body=b'{"content": "x"}', auth="oauth", status=413)
    for method in ("PUT", "DELETE"):
        for kind, local in (("note", "{note}"), ("collection", "{collection}"), ("image", "{image}")):
            yield Case(f"pumpio-rest-{method}-{kind}-unsigned", method, f"/api/{kind}/{local}", "pumpio",
                       headers=(PUT,), body=b'{"content": "x"}' if method == "PUT" else b"", status=401)
    for method, target in (("PATCH", "/api/note/{note}"), ("POST", "/api/collection/{collection}"),
                           ("PUT", "/api/collection/{collection}/members"), ("DELETE", "/api/user/{user}/followers"),
                           ("POST", "/api/image/{image}/likes"), ("DELETE", "/api/user/{user}/lists/image"),
                           ("PUT", "/api/user/{user}/favorites")):
        yield Case(f"pumpio-rest-method-{method}-{target}", method, target, "pumpio", headers=(PUT,), body=b"{}",
                   auth="oauth", status=405)
    for name, target in (("unrouted", "/api/spaceship/1"), ("user-unrouted", "/api/user/{user}/spaceship"),
                         ("person", "/api/person/{user}"), ("collection-likes", "/api/collection/{collection}/likes"),
                         ("deeper", "/api/note/{note}/replies/more")):
        yield Case(f"pumpio-rest-OPTIONS-{name}", "OPTIONS", target, "pumpio", auth="oauth", status=404)


BAD_WINDOW = [
    ("count-201", "count=201", paging.BAD_COUNT), ("count-negative", "count=-1", paging.BAD_COUNT),
    ("count-words", "count=ten", paging.BAD_COUNT), ("count-float", "count=1.5", paging.BAD_COUNT),
    ("count-400-digits", "count=" + "9" * 400, paging.BAD_COUNT),
    ("offset-negative", "offset=-1", paging.BAD_OFFSET), ("offset-words", "offset=x", paging.BAD_OFFSET),
    ("offset-far", "offset=" + "9" * 30, paging.FAR_OFFSET), ("offset-unicode-digits", "offset=%D9%A3",
                                                              paging.BAD_OFFSET),
]
BAD_CURSOR = [
    ("before-unknown", "before=nope", None), ("since-unknown", "since=nope", None),
    ("before-other-server", "before=https%3A%2F%2Felsewhere.example%2Fapi%2Fimage%2F{image}", None),
    ("before-and-since", "before=a&since=b", paging.BEFORE_AND_SINCE),
    ("offset-and-since", "offset=0&since=a", paging.CURSOR_AND_OFFSET),
    ("before-5000", "before=" + "b" * 5000, None),
]
WINDOWED = [
    ("likes", "/api/image/{others_image}/likes"), ("note-shares", "/api/note/{others_note}/shares"),
    ("note-replies", "/api/note/{others_note}/replies"),
    ("favorites", "/api/user/{user}/favorites"), ("followers", "/api/user/{other}/followers"),
    ("following", "/api/user/{user}/following"), ("uploads", "/api/user/{user}/uploads"),
]
CURSORED = [
    ("members", "/api/collection/{collection}/members"), ("lists", "/api/user/{user}/lists/image"),
    ("feed-minor", "/api/user/{user}/feed/minor"), ("inbox-direct", "/api/user/{user}/inbox/direct"),
]


def read_cases() -> Iterator[Case]:
    for name, target in WINDOWED + CURSORED:
        for query_name, query, error in BAD_WINDOW:
            yield Case(f"pumpio-read-{name}-{query_name}", "GET", f"{target}?{query}", "pumpio", auth="oauth",
                       status=400, error=error)
    for name, target in CURSORED:
        for query_name, query, error in BAD_CURSOR:
            yield Case(f"pumpio-read-{name}-{query_name}", "GET", f"{target}?{query}", "pumpio", auth="oauth",
                       status=400, error=error)
    # A member named by an id that is no member, and another user's collection as a place in one's lists.
    yield Case("pumpio-read-members-before-the-collection", "GET",
               "/api/collection/{collection}/members?before={base}/api/collection/{collection}", "pumpio",
               auth="oauth", status=400)
    yield Case("pumpio-read-lists-before-others-collection", "GET",
               "/api/user/{user}/lists/image?before={others_collection}", "pumpio", auth="oauth", status=400)
    absent = [
        ("likes-unknown", "/api/image/nope/likes", NO_IMAGE), ("likes-others-unposted",
                                                               "/api/image/{others_media}/likes", NO_IMAGE),
        ("shares-unknown-note", "/api/note/nope/shares", NO_NOTE),
        ("replies-unknown-note", "/api/note/nope/replies", NO_NOTE),
        ("replies-note-an-image", "/api/note/{image}/replies", NO_NOTE),
        ("replies-note-traversal", "/api/note/..%2F..%2Fetc%2Fpasswd/replies", NO_NOTE),
        ("replies-note-400-digits", "/api/note/" + "9" * 400 + "/replies", NO_NOTE),
        ("replies-note-nul", "/api/note/a%00b/replies", NO_NOTE),
        ("likes-unknown-comment", "/api/comment/nope/likes", NO_COMMENT),
        ("likes-image-as-audio", "/api/audio/{image}/likes", NO_IMAGE),
        ("favorites-unknown-user", "/api/user/nobody/favorites", "No such user: nobody"),
        ("followers-unknown-user", "/api/user/nobody/followers", "No such user: nobody"),
        ("following-nul-user", "/api/user/a%00b/following", None),
        ("uploads-unknown-user", "/api/user/nobody/uploads", "No such user: nobody"),
        ("lists-unknown-user", "/api/user/nobody/lists/image", "No such user: nobody"),
        ("collection-unknown", "/api/collection/nope", collections.NO_COLLECTION),
        ("collection-400-digits", "/api/collection/" + "9" * 400, collections.NO_COLLECTION),
        ("collection-nul", "/api/collection/a%00b", collections.NO_COLLECTION),
        ("collection-traversal", "/api/collection/..%2F..%2Fetc%2Fpasswd", collections.NO_COLLECTION),
        ("collection-a-note", "/api/collection/{note}", collections.NO_COLLECTION),
        ("members-unknown", "/api/collection/nope/members", collections.NO_COLLECTION),
        ("members-unicode", "/api/collection/%C3%A9/members", collections.NO_COLLECTION),
    ]
    for name, target, error in absent:
        yield Case(f"pumpio-read-{name}", "GET", target, "pumpio", auth="oauth", status=404, error=error)
    yield Case("pumpio-read-others-uploads", "GET", "/api/user/{other}/uploads", "pumpio", auth="oauth", status=403,
               error="Only the owner can list their uploads.")
    yield Case("pumpio-read-others-uploads-paged", "GET", "/api/user/{other}/uploads?count=1&offset=1", "pumpio",
               auth="oauth", status=403)
    for name, target in (("collection", "/api/collection/{collection}"),
                         ("members", "/api/collection/{collection}/members"),
                         ("lists", "/api/user/{user}/lists/image"), ("likes", "/api/image/{others_image}/likes"),
                         ("note-replies", "/api/note/{others_note}/replies"),
                         ("favorites", "/api/user/{user}/favorites"), ("followers", "/api/user/{user}/followers"),
                         ("uploads", "/api/user/{user}/uploads")):
        yield Case(f"pumpio-read-{name}-unsigned", "GET", target, "pumpio", status=401)
        yield Case(f"pumpio-read-{name}-stale-signature", "GET", target, "pumpio", auth="oauth-stale", status=401)


def social_cases() -> Iterator[Case]:
    yield from feed_cases()
    yield from rest_cases()
    yield from read_cases()
    yield from text_cases()



# A lone surrogate is no Unicode text: refused as JSON before any field of it reaches SQLite or the HTML cutter.
# json.dumps would not write one, so each body says <lone> where the escape goes.
LONE = b"\\ud800"
SURROGATES = {
    "note-content": act("post", {"objectType": "note", "content": "a<lone>"}),
    "note-display-name": act("post", {"objectType": "note", "content": "a", "displayName": "<lone>"}),
    "follow": person("acct:a<lone>@{host}"),
    "collection-name": collection(displayName="<lone>"),
    "object-types": collection(objectTypes=["<lone>"]),
    "add-person": membership("add", {"objectType": "person", "id": "acct:a<lone>@{host}"}),
    "verb": act("<lone>", {"objectType": "note"}),
    "object-type": act("post", {"objectType": "<lone>"}),
    "attachment-id": attaching({"id": "<lone>"}),
}


def text_cases() -> Iterator[Case]:
    for name, body in SURROGATES.items():
        yield Case(f"pumpio-surrogate-{name}", "POST", FEED, "pumpio", headers=(JSON,),
                   body=body.replace(b"<lone>", LONE), auth="oauth", status=400, error=feed.BAD_JSON)
    # Percent escapes that decode to no UTF-8 text, in a cursor or an id.
    for name, target, status in (("feed-before", "/api/user/{user}/feed?before=%FF", 400),
                                 ("members-before", "/api/collection/{collection}/members?before=%ED%A0%80", 400),
                                 ("collection-id", "/api/collection/%FF", 404), ("note-id", "/api/note/%ED%A0%80", 404),
                                 ("followers-user", "/api/user/%ED%A0%80/followers", 404)):
        yield Case(f"pumpio-undecodable-{name}", "GET", target, "pumpio", auth="oauth", status=status)
    yield Case("pumpio-rest-OPTIONS-asterisk", "OPTIONS", "*", "pumpio", status=404)
    yield Case("pumpio-rest-OPTIONS-dot-segments", "OPTIONS", "/api/../api/note/x/../../..", "pumpio", status=404)
