"""The hostile corpus as tables: each row becomes one case, each case one request that must be refused.

Targets and bodies may name what the corpus's server holds: {user} and {other} (user names), {media}
(alice's Mastodon media), {others_media} (bob's), {status} (alice's status), {pending} (alice's presigned
media awaiting bytes), {blob} and {version} (the content address and processing version of {media}),
{upload} (a valid upload URL's path and query for {pending}) and its doctored variants {upload_*};
tests/hostile/social.py adds what was posted through pump.io ({note}, {collection}, ...).
`auth` names who signs: "write", "read", "bob", "unknown" (bearer tokens), "oauth" (alice, three-legged),
"oauth-client" (the client alone), either followed by how the signature is doctored ("oauth-stale"), or
"none"; an explicit Authorization header wins.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pyvips

from gateways.mastodon import errors as mastodon
from mediaplex import runner

# How the refusal is shaped: {"error"} (mastodon, pumpio), {"error", "code"} (coded), or refused by the
# HTTP parser before any gateway sees the request (framing), answered as {"error"} too (mediaplex/runner.py).
PROTOCOLS = ("mastodon", "pumpio", "coded", "framing")


class Case(msgspec.Struct, frozen=True):
    id: str
    method: str
    target: str
    protocol: str
    headers: tuple[tuple[bytes, bytes], ...] = ()
    body: bytes = b""
    auth: str = "none"
    # The README's status where it documents one; any 4xx otherwise.
    status: int | None = None
    error: str | None = None
    code: str | None = None
    # Whether to add a Content-Length for the body (off for chunked bodies and doctored framing).
    length: bool = True
    # End the sending side after the request: a body that stops short of what it announced. The server
    # may then have nobody to answer; what is checked is that nothing is left and it keeps serving.
    close_write: bool = False
    # Prefix mismatch on the error text rather than equality (messages naming a detail).
    error_prefix: bool = False


JSON = (b"Content-Type", b"application/json")
FORM = (b"Content-Type", b"application/x-www-form-urlencoded")
BOUNDARY = b"hostileboundary"
MULTIPART = (b"Content-Type", b"multipart/form-data; boundary=" + BOUNDARY)
DEEP = b"[" * 5000 + b"]" * 5000
DEEP_OBJECT = b'{"a":' * 5000 + b"1" + b"}" * 5000
# Deep enough for any decoder's recursion limit, small enough for a 16 KiB body cap.
DEEP_SMALL_OBJECT = b'{"a":' * 2500 + b"1" + b"}" * 2500
# Bytes that are no image at all, and a PDF (a known type, not an image).
GARBAGE = b"this is not an image, just words " * 20
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
# A whole small image, so that the checks after the file's are the ones that refuse.
JPEG = pyvips.Image.black(16, 16).jpegsave_buffer()
PNG_HEAD = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00"


def part(name: bytes, content: bytes, *, filename: bytes | None = None, content_type: bytes | None = None,
         extra: bytes = b"") -> bytes:
    disposition = b'Content-Disposition: form-data; name="' + name + b'"'
    if filename is not None:
        disposition += b'; filename="' + filename + b'"'
    head = disposition + b"\r\n"
    if content_type is not None:
        head += b"Content-Type: " + content_type + b"\r\n"
    return head + extra + b"\r\n" + content


def multipart(*parts: bytes, boundary: bytes = BOUNDARY, end: bool = True) -> bytes:
    body = b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in parts)
    return body + (b"--" + boundary + b"--\r\n" if end else b"")


def file_part(content: bytes = GARBAGE, filename: bytes = b"x.jpg", content_type: bytes = b"image/jpeg") -> bytes:
    return part(b"file", content, filename=filename, content_type=content_type)


def dumps(value: object) -> bytes:
    return json.dumps(value).encode()


# --- Mastodon ------------------------------------------------------------------------------------

BEARER_ROUTES = [
    ("POST", "/api/v1/media", "mastodon"),
    ("POST", "/api/v2/media", "mastodon"),
    ("GET", "/api/v1/media/{media}", "mastodon"),
    ("PUT", "/api/v1/media/{media}", "mastodon"),
    ("DELETE", "/api/v1/media/{media}", "mastodon"),
    ("GET", "/api/v1/accounts/verify_credentials", "mastodon"),
    ("POST", "/api/v1/statuses", "mastodon"),
    ("PUT", "/api/v1/statuses/{status}", "mastodon"),
    ("DELETE", "/api/v1/statuses/{status}", "mastodon"),
    ("GET", "/api/v1/timelines/home", "mastodon"),
    ("POST", "/media", "coded"),
    ("GET", "/media/{pending}", "coded"),
    ("POST", "/posts", "coded"),
    ("GET", "/identity/current", "coded"),
    ("PUT", "/identity/current", "coded"),
]
BAD_CREDENTIALS = [
    ("none", ()),
    ("unknown-token", ((b"Authorization", b"Bearer not-a-token"),)),
    ("basic", ((b"Authorization", b"Basic YTpi"),)),
    ("empty-bearer", ((b"Authorization", b"Bearer "),)),
    ("two-words", ((b"Authorization", b"Bearer a b"),)),
    ("oauth-scheme", ((b"Authorization", b'OAuth oauth_consumer_key="x"'),)),
    ("long-token", ((b"Authorization", b"Bearer " + b"t" * 6000),)),
    ("latin1-token", ((b"Authorization", b"Bearer caf\xe9"),)),
]
UNAUTHORIZED = {"mastodon": (401, mastodon.TOKEN_INVALID, None), "coded": (401, None, None)}
POSTS_ROUTES = ("/posts", "/identity/current")


def auth_cases() -> Iterator[Case]:
    for method, target, protocol in BEARER_ROUTES:
        for name, headers in BAD_CREDENTIALS:
            status, error, code = UNAUTHORIZED[protocol]
            if protocol == "coded":
                code = "invalid_token" if target in POSTS_ROUTES else "unauthorized"
            yield Case(f"auth-{name}-{method}-{target}", method, target, protocol, headers=headers,
                       status=status, error=error, code=code)
    # A token without the scope the route needs.
    for method, target, protocol in BEARER_ROUTES:
        if (method, target) in (("GET", "/api/v1/accounts/verify_credentials"), ("GET", "/media/{pending}"),
                                ("GET", "/identity/current"), ("GET", "/api/v1/timelines/home")):
            continue
        if protocol == "mastodon":
            yield Case(f"scope-read-{method}-{target}", method, target, protocol, auth="read", status=403,
                       error=mastodon.OUT_OF_SCOPE)
        else:
            code = "insufficient_scope" if target in POSTS_ROUTES else "forbidden"
            yield Case(f"scope-read-{method}-{target}", method, target, protocol, auth="read", status=403,
                       code=code)


NOT_MULTIPART = [
    ("json", (JSON,), b'{"file": "x"}'),
    ("form", (FORM,), b"file=x"),
    ("text", ((b"Content-Type", b"text/plain"),), b"file"),
    ("none", (), b"file"),
    ("empty-type", ((b"Content-Type", b""),), b""),
    ("image", ((b"Content-Type", b"image/jpeg"),), GARBAGE),
]
MULTIPART_BODIES: list[tuple[str, tuple[tuple[bytes, bytes], ...], bytes, int | None, str | None]] = [
    # name, headers, body, status, error
    ("no-file", (MULTIPART,), multipart(part(b"description", b"hello")), 400, mastodon.MISSING_FILE),
    ("empty", (MULTIPART,), b"", 400, None),
    ("only-closing", (MULTIPART,), b"--" + BOUNDARY + b"--\r\n", 400, mastodon.MISSING_FILE),
    ("no-boundary-param", ((b"Content-Type", b"multipart/form-data"),), multipart(file_part()), 400, None),
    ("wrong-boundary", ((b"Content-Type", b"multipart/form-data; boundary=other"),), multipart(file_part()),
     400, None),
    ("empty-boundary", ((b"Content-Type", b"multipart/form-data; boundary="),), multipart(file_part()), 400, None),
    ("boundary-200", ((b"Content-Type", b"multipart/form-data; boundary=" + b"b" * 200),),
     multipart(file_part(), boundary=b"b" * 200), None, None),
    ("garbage-file", (MULTIPART,), multipart(file_part()), 422, mastodon.UNVERIFIED_TYPE),
    ("pdf-file", (MULTIPART,), multipart(file_part(PDF, b"x.pdf", b"application/pdf")), 422,
     mastodon.INVALID_TYPE),
    ("empty-file", (MULTIPART,), multipart(file_part(b"")), 422, None),
    ("png-header-only", (MULTIPART,), multipart(file_part(PNG_HEAD, b"x.png", b"image/png")), 422, None),
    ("garbage-then-thumbnail", (MULTIPART,),
     multipart(file_part(), part(b"thumbnail", GARBAGE, filename=b"t.jpg", content_type=b"image/jpeg")), 422, None),
    ("thumbnail-before-garbage", (MULTIPART,),
     multipart(part(b"thumbnail", GARBAGE, filename=b"t.jpg", content_type=b"image/jpeg"), file_part()), 422, None),
    ("thumbnail-before-image", (MULTIPART,),
     multipart(part(b"thumbnail", JPEG, filename=b"t.jpg", content_type=b"image/jpeg"), file_part(JPEG)), 422,
     mastodon.THUMBNAIL_NOT_BLANK),
    ("truncated-framing", (MULTIPART,), multipart(file_part(), end=False)[:-40], None, None),
    ("truncated-framing-image", (MULTIPART,), multipart(file_part(JPEG), end=False)[:-40], None, None),
    ("no-closing-boundary", (MULTIPART,), multipart(part(b"description", b"x"), end=False), 400, None),
    ("part-without-disposition", (MULTIPART,), multipart(b"Content-Type: image/jpeg\r\n\r\n" + GARBAGE), 400,
     None),
    ("part-header-10k", (MULTIPART,),
     multipart(part(b"file", GARBAGE, filename=b"x.jpg", extra=b"X-Pad: " + b"p" * 10_000 + b"\r\n")), None, None),
    ("field-name-10k", (MULTIPART,), multipart(part(b"n" * 10_000, b"v")), 400, None),
    ("filename-10k", (MULTIPART,), multipart(file_part(JPEG, filename=b"f" * 10_000 + b".jpg")), 400, None),
    ("filename-nul", (MULTIPART,), multipart(file_part(JPEG, filename=b"a\x00b.jpg")), 400, None),
    ("filename-crlf", (MULTIPART,), multipart(file_part(JPEG, filename=b"a\r\nb.jpg")), 400, None),
    ("filename-traversal", (MULTIPART,), multipart(file_part(filename=b"../../etc/passwd")), 422, None),
    ("description-unknown-charset", (MULTIPART,),
     multipart(part(b"description", b"hello", content_type=b"text/plain; charset=x-no-such-charset"), file_part(JPEG)),
     415, None),
    ("description-1501", (MULTIPART,), multipart(part(b"description", b"d" * 1501), file_part(JPEG)), 422,
     mastodon.description_too_long(1500)),
    ("description-invalid-utf8", (MULTIPART,), multipart(part(b"description", b"\xff\xfe" * 10),
                                                        file_part(GARBAGE)), 400, None),
    ("focus-words", (MULTIPART,), multipart(part(b"focus", b"left,top"), file_part(JPEG)), 422, mastodon.BAD_FOCUS),
    ("focus-out-of-range", (MULTIPART,), multipart(part(b"focus", b"2,0"), file_part(JPEG)), 422, mastodon.BAD_FOCUS),
    ("focus-nan", (MULTIPART,), multipart(part(b"focus", b"nan,0"), file_part(JPEG)), 422, mastodon.BAD_FOCUS),
    ("focus-three", (MULTIPART,), multipart(part(b"focus", b"0,0,0"), file_part(JPEG)), 422, mastodon.BAD_FOCUS),
    ("focus-huge", (MULTIPART,), multipart(part(b"focus", b"1" * 400 + b",0"), file_part(JPEG)), 422,
     mastodon.BAD_FOCUS),
    ("hundred-empty-fields", (MULTIPART,), multipart(*[part(b"f%d" % n, b"") for n in range(100)]), 413, None),
    ("two-files-garbage", (MULTIPART,), multipart(file_part(), file_part()), 422, None),
]


def mastodon_upload_cases() -> Iterator[Case]:
    for version in ("v1", "v2"):
        target = f"/api/{version}/media"
        for name, headers, body in NOT_MULTIPART:
            yield Case(f"mastodon-{version}-not-multipart-{name}", "POST", target, "mastodon", headers=headers,
                       body=body, auth="write", status=400, error=mastodon.MISSING_FILE)
        for name, headers, body, status, error in MULTIPART_BODIES:
            yield Case(f"mastodon-{version}-{name}", "POST", target, "mastodon", headers=headers, body=body,
                       auth="write", status=status, error=error)
        # The README's promise: a thumbnail for an image is refused, whatever the image.
        yield Case(f"mastodon-{version}-thumbnail-part", "POST", target, "mastodon", headers=(MULTIPART,),
                   body=multipart(file_part(JPEG), part(b"thumbnail", b"t", filename=b"t.jpg",
                                                        content_type=b"image/jpeg")),
                   auth="write", status=422, error=mastodon.THUMBNAIL_NOT_BLANK)
        # Past the video limit, the larger: which of the two applies is not known before the bytes are.
        yield Case(f"mastodon-{version}-declared-100mib", "POST", target, "mastodon",
                   headers=(MULTIPART, (b"Content-Length", str(100 * 1024 * 1024).encode())),
                   body=multipart(file_part()), auth="write", status=422,
                   error=mastodon.too_large(99 * 1024 * 1024))
        yield Case(f"mastodon-{version}-body-cut-short", "POST", target, "mastodon",
                   headers=(MULTIPART, (b"Content-Length", b"100000")), body=multipart(file_part())[:200],
                   auth="write", close_write=True)


PUT_BODIES: list[tuple[str, tuple[tuple[bytes, bytes], ...], bytes, int | None, str | None]] = [
    ("malformed-json", (JSON,), b'{"description": ', 400, "Invalid JSON body"),
    ("json-array", (JSON,), b'["description"]', 400, "Invalid JSON body"),
    ("json-string", (JSON,), b'"description"', 400, "Invalid JSON body"),
    ("json-null", (JSON,), b"null", 400, "Invalid JSON body"),
    ("json-bom", (JSON,), b'\xef\xbb\xbf{"description": "x"}', 400, None),
    ("json-invalid-utf8", (JSON,), b'{"description": "\xff"}', 400, None),
    ("deep-json", (JSON,), DEEP, 400, None),
    ("deep-json-object", (JSON,), DEEP_OBJECT, 400, None),
    ("description-object", (JSON,), b'{"description": {"a": 1}}', None, None),
    ("description-list", (JSON,), b'{"description": ["a"]}', None, None),
    ("description-number", (JSON,), b'{"description": 12}', None, None),
    ("description-too-long", (JSON,), dumps({"description": "d" * 1501}), 422, mastodon.description_too_long(1500)),
    ("focus-object", (JSON,), b'{"focus": {"x": 0}}', 422, "Validation failed: Focus must be a string"),
    ("focus-huge-number", (JSON,), b'{"focus": 1e999}', 422, None),
    ("focus-400-digits", (JSON,), b'{"focus": ' + b"9" * 400 + b"}", 422, None),
    ("focus-out-of-range", (JSON,), b'{"focus": "5,5"}', 422, mastodon.BAD_FOCUS),
    ("form-focus-bad", (FORM,), b"focus=a%2Cb", 422, mastodon.BAD_FOCUS),
    ("form-description-too-long", (FORM,), b"description=" + b"d" * 1501, 422, mastodon.description_too_long(1500)),
    ("json-unknown-charset", ((b"Content-Type", b"application/json; charset=x-no-such-charset"),),
     b'{"description": "x"}', 415, None),
    ("form-unknown-charset", ((b"Content-Type", b"application/x-www-form-urlencoded; charset=x-no-such"),),
     b"description=x", 415, None),
    ("multipart-thumbnail", (MULTIPART,),
     multipart(part(b"thumbnail", GARBAGE, filename=b"t.jpg", content_type=b"image/jpeg")), 422,
     mastodon.THUMBNAIL_NOT_BLANK),
    ("multipart-broken", (MULTIPART,), b"--" + BOUNDARY + b"\r\nnonsense", 400, None),
]


def mastodon_media_cases() -> Iterator[Case]:
    for name, headers, body, status, error in PUT_BODIES:
        yield Case(f"mastodon-put-{name}", "PUT", "/api/v1/media/{media}", "mastodon", headers=headers, body=body,
                   auth="write", status=status, error=error)
    unknown_ids = [("zero", "0"), ("letters", "abc"), ("digits-400", "9" * 400), ("others", "{others_media}"),
                   ("nul", "%00"), ("dotdot", "..%2F..%2Fetc"), ("unicode", "%C3%A9t%C3%A9"),
                   ("negative", "-1")]
    for name, media_id in unknown_ids:
        for method in ("GET", "PUT", "DELETE"):
            headers = (JSON,) if method == "PUT" else ()
            body = b'{"description": "x"}' if method == "PUT" else b""
            yield Case(f"mastodon-{method}-unknown-{name}", method, f"/api/v1/media/{media_id}", "mastodon",
                       headers=headers, body=body, auth="write", status=404, error=mastodon.NOT_FOUND)
    for method in ("PATCH", "OPTIONS", "TRACE"):
        for target in ("/api/v1/media", "/api/v1/media/{media}", "/api/v1/instance", "/api/v2/instance",
                       "/api/v1/accounts/verify_credentials"):
            yield Case(f"mastodon-method-{method}-{target}", method, target, "mastodon", auth="write", status=405)
    for method in ("POST", "PUT", "DELETE"):
        for target in ("/api/v1/instance", "/api/v2/instance/", "/api/v1/accounts/verify_credentials"):
            yield Case(f"mastodon-method-{method}-{target}", method, target, "mastodon", headers=(JSON,),
                       body=b"{}", auth="write", status=405)


STATUS_BODIES: list[tuple[str, tuple[tuple[bytes, bytes], ...], bytes, int | None, str | None]] = [
    ("malformed-json", (JSON,), b'{"status": ', 400, "Invalid JSON body"),
    ("json-array", (JSON,), b'["status"]', 400, "Invalid JSON body"),
    ("json-null", (JSON,), b"null", 400, "Invalid JSON body"),
    ("json-invalid-utf8", (JSON,), b'{"status": "\xff"}', 400, "Invalid JSON body"),
    ("deep-json", (JSON,), DEEP, 400, None),
    ("deep-json-object", (JSON,), DEEP_OBJECT, 400, None),
    ("empty-json", (JSON,), b"{}", 422, "Validation failed: Text can't be blank"),
    ("blank-status", (JSON,), b'{"status": "  "}', 422, "Validation failed: Text can't be blank"),
    ("status-object", (JSON,), b'{"status": {"a": 1}}', 422, None),
    ("status-too-long", (JSON,), dumps({"status": "s" * 501}), 422,
     "Validation failed: Text character limit of 500 exceeded"),
    ("media-ids-object", (JSON,), b'{"status": "x", "media_ids": {"a": 1}}', 422, None),
    ("media-ids-nested", (JSON,), b'{"status": "x", "media_ids": [["1"]]}', 422, None),
    ("media-ids-400-digits", (JSON,), b'{"media_ids": ["' + b"9" * 400 + b'"]}', 422, None),
    ("media-ids-five", (JSON,), dumps({"media_ids": ["1", "2", "3", "4", "5"]}), 422,
     "Cannot attach more than 4 files"),
    ("media-ids-others", (JSON,), b'{"media_ids": ["{others_media}"]}', 422, None),
    ("visibility-unknown", (JSON,), b'{"status": "x", "visibility": "everyone"}', 422,
     "Validation failed: Visibility is not included in the list"),
    ("reply-to-nothing", (JSON,), b'{"status": "x", "in_reply_to_id": "1"}', 404, mastodon.NOT_FOUND),
    ("attributes-junk", (JSON,), b'{"status": "x", "media_attributes": [1, 2]}', 422, None),
    ("json-unknown-charset", ((b"Content-Type", b"application/json; charset=x-no-such-charset"),),
     b'{"status": "x"}', 415, None),
    ("form-invalid-utf8", (FORM,), b"status=%FF%FE", 400, None),
    ("form-too-many-fields", (FORM,), b"&".join(b"a%d=1" % n for n in range(200)), 400, None),
    ("form-unknown-charset", ((b"Content-Type", b"application/x-www-form-urlencoded; charset=x-no-such"),),
     b"status=x", 415, None),
    ("form-media-ids-five", (FORM,), b"&".join(b"media_ids[]=%d" % n for n in range(5)), 422,
     "Cannot attach more than 4 files"),
    ("too-large", (FORM,), b"status=" + b"s" * (70 * 1024), 413, None),
]


def mastodon_status_cases() -> Iterator[Case]:
    for name, headers, body, status, error in STATUS_BODIES:
        yield Case(f"mastodon-status-{name}", "POST", "/api/v1/statuses", "mastodon", headers=headers, body=body,
                   auth="write", status=status, error=error)
        if status in (400, 413, 415):
            # Bodies refused before they are read as a status: an edit refuses them just the same.
            yield Case(f"mastodon-status-edit-{name}", "PUT", "/api/v1/statuses/{status}", "mastodon",
                       headers=headers, body=body, auth="write", status=status, error=error)
    for name, status_id in (("zero", "0"), ("letters", "abc"), ("digits-400", "9" * 400), ("nul", "%00"),
                            ("negative", "-1"), ("unicode", "%C3%A9t%C3%A9")):
        for method in ("GET", "PUT", "DELETE"):
            yield Case(f"mastodon-status-{method}-unknown-{name}", method, f"/api/v1/statuses/{status_id}",
                       "mastodon", headers=(JSON,), body=b'{"status": "x"}' if method == "PUT" else b"",
                       auth="write", status=404, error=mastodon.NOT_FOUND)
    for name, target in (("account", "/api/v1/accounts/abc"), ("account-statuses", "/api/v1/accounts/0/statuses"),
                         ("lookup", "/api/v1/accounts/lookup?acct=nobody%00"),
                         ("lookup-remote", "/api/v1/accounts/lookup?acct={user}@elsewhere.example")):
        yield Case(f"mastodon-unknown-{name}", "GET", target, "mastodon", auth="write", status=404,
                   error=mastodon.NOT_FOUND)
    # Someone else's status, to edit or delete: as unknown.
    for method in ("PUT", "DELETE"):
        yield Case(f"mastodon-status-{method}-others", method, "/api/v1/statuses/{status}", "mastodon",
                   headers=(JSON,), body=b'{"status": "x"}' if method == "PUT" else b"", auth="bob", status=404,
                   error=mastodon.NOT_FOUND)


# --- pump.io --------------------------------------------------------------------------------------

def registration(**fields: object) -> bytes:
    return dumps({"type": "client_associate", "application_type": "native", **fields})


REGISTRATIONS: list[tuple[str, tuple[tuple[bytes, bytes], ...], bytes, int | None]] = [
    ("no-content-type", (), registration(), 400),
    ("text-plain", ((b"Content-Type", b"text/plain"),), registration(), 400),
    ("malformed-json", (JSON,), b'{"type": ', 400),
    ("json-array", (JSON,), b'["client_associate"]', 400),
    ("json-null", (JSON,), b"null", 400),
    ("deep-json", (JSON,), DEEP, 400),
    ("deep-json-object", (JSON,), DEEP_OBJECT, 400),
    ("no-type", (JSON,), b'{"application_type": "native"}', 400),
    ("unknown-type", (JSON,), registration(type="client_destroy"), 400),
    ("type-number", (JSON,), b'{"type": 5}', 400),
    ("bad-application-type", (JSON,), registration(application_type="toaster"), 400),
    ("name-object", (JSON,), registration(application_name={"a": 1}), 400),
    ("contacts-object", (JSON,), registration(contacts={"a": 1}), 400),
    ("contacts-not-emails", (JSON,), registration(contacts="not an email"), 400),
    ("logo-not-url", (JSON,), registration(logo_uri="javascript:alert(1)"), 400),
    ("redirects-not-urls", (JSON,), registration(redirect_uris="nope"), 400),
    ("redirects-list-of-numbers", (JSON,), registration(redirect_uris=[1, 2]), 400),
    ("id-on-associate", (JSON,), registration(client_id="x"), 400),
    ("secret-on-associate", (JSON,), registration(client_secret="x"), 400),
    ("update-without-credentials", (JSON,), dumps({"type": "client_update"}), 400),
    ("update-unknown-client", (JSON,), dumps({"type": "client_update", "client_id": "nope", "client_secret": "x"}),
     None),
    ("980kb-name", (JSON,), registration(application_name="n" * 980_000), 413),
    ("980kb-contacts", (JSON,), registration(contacts=" ".join(["a@b.c"] * 160_000)), 413),
    ("unknown-charset", ((b"Content-Type", b"application/json; charset=x-no-such-charset"),), registration(), 415),
    ("form-unknown-charset", ((b"Content-Type", b"application/x-www-form-urlencoded; charset=x-no-such"),),
     b"type=client_associate&application_type=native", 415),
    ("form-bad-type", (FORM,), b"type=nope", 400),
    ("form-bad-logo", (FORM,), b"type=client_associate&application_type=native&logo_url=ftp%3A%2F%2Fx", 400),
    ("form-invalid-percent", (FORM,), b"type=client_associate&application_type=%ZZ", 400),
    ("huge-number-type", (JSON,), b'{"type": ' + b"9" * 400 + b"}", 400),
    ("invalid-utf8", (JSON,), b'{"type": "client_associate", "application_name": "\xff\xfe"}', 400),
]


def pumpio_client_cases() -> Iterator[Case]:
    for name, headers, body, status in REGISTRATIONS:
        yield Case(f"pumpio-register-{name}", "POST", "/api/client/register", "pumpio", headers=headers,
                   body=body, status=status)
    for method in ("GET", "PUT", "DELETE"):
        yield Case(f"pumpio-register-method-{method}", method, "/api/client/register", "pumpio", status=405)


MISSING_OAUTH = "Missing OAuth credentials: sign the request with an 'Authorization: OAuth' header"
OAUTH_HEADERS = [
    ("none", (), "none", 401),
    ("bearer", ((b"Authorization", b"Bearer abc"),), "none", 401),
    ("malformed", ((b"Authorization", b"OAuth oauth_consumer_key"),), "none", 400),
    ("unknown-consumer", ((b"Authorization", b'OAuth oauth_consumer_key="nope", oauth_signature_method="HMAC-SHA1", '
                                                b'oauth_signature="x", oauth_timestamp="1", oauth_nonce="n", '
                                                b'oauth_version="1.0"'),), "none", 401),
    ("timestamp-400-digits", (), "oauth-timestamp-400", None),
    ("timestamp-stale", (), "oauth-stale", 401),
    ("timestamp-words", (), "oauth-timestamp-words", None),
    ("bad-signature", (), "oauth-bad-signature", 401),
    ("plaintext-method", (), "oauth-plaintext", None),
    ("nonce-10k", (), "oauth-nonce-10k", None),
]


def pumpio_oauth_cases() -> Iterator[Case]:
    for endpoint in ("/oauth/request_token", "/oauth/access_token"):
        for name, headers, auth, status in OAUTH_HEADERS:
            # The token endpoints are signed by the client alone; the access token one then lacks its
            # request token, which may be what it says first.
            auth = auth.replace("oauth-", "oauth-client-", 1)
            if endpoint == "/oauth/access_token" and auth != "none":
                status = None
            yield Case(f"pumpio{endpoint.replace('/', '-')}-{name}", "POST", endpoint, "pumpio", headers=headers,
                       auth=auth, status=status)
    # Signed requests on the resource routes, doctored the same ways.
    for target in ("/api/whoami", "/api/user/{user}/feed", "/api/user/{user}/inbox"):
        for name, headers, auth, status in OAUTH_HEADERS:
            yield Case(f"pumpio-signed-{name}-{target}", "GET", target, "pumpio", headers=headers, auth=auth,
                       status=status)
    yield Case("pumpio-authorize-no-token", "GET", "/oauth/authorize", "pumpio", status=400)
    yield Case("pumpio-authorize-unknown-token", "GET", "/oauth/authorize?oauth_token=nope", "pumpio")
    yield Case("pumpio-authorize-post-garbage", "POST", "/oauth/authorize", "pumpio", headers=(FORM,),
               body=b"oauth_token=nope&username=alice&password=x")
    yield Case("pumpio-authorize-post-json", "POST", "/oauth/authorize", "pumpio", headers=(JSON,), body=b"{}")
    yield Case("pumpio-authorize-post-unknown-charset", "POST", "/oauth/authorize", "pumpio",
               headers=((b"Content-Type", b"application/x-www-form-urlencoded; charset=x-no-such"),),
               body=b"oauth_token=nope")


DISCOVERY = [
    ("webfinger-no-resource", "/.well-known/webfinger", 400),
    ("webfinger-empty-resource", "/.well-known/webfinger?resource=", 404),
    ("webfinger-unknown-user", "/.well-known/webfinger?resource=acct:nobody@127.0.0.1", 404),
    ("webfinger-other-host", "/.well-known/webfinger?resource=acct:alice@elsewhere.example", 404),
    ("webfinger-no-at", "/.well-known/webfinger?resource=acct:alice", 404),
    ("webfinger-nul", "/.well-known/webfinger?resource=acct:al%00ice@127.0.0.1", 404),
    ("webfinger-long", "/.well-known/webfinger?resource=acct:" + "a" * 5000 + "@127.0.0.1", 404),
    ("webfinger-bad-percent", "/.well-known/webfinger?resource=%ZZ%ZZ", 404),
    ("webfinger-repeated", "/.well-known/webfinger?resource=&resource=", 404),
]


def pumpio_discovery_cases() -> Iterator[Case]:
    for name, target, status in DISCOVERY:
        yield Case(f"pumpio-discovery-{name}", "GET", target, "pumpio", status=status)
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        for target in ("/.well-known/host-meta", "/.well-known/host-meta.json", "/.well-known/webfinger"):
            yield Case(f"pumpio-discovery-method-{method}-{target}", method, target, "pumpio", status=405)


def upload_json(**fields: object) -> bytes:
    return dumps(fields)


PUMP_UPLOADS: list[tuple[str, tuple[tuple[bytes, bytes], ...], bytes, str, int | None]] = [
    ("unsigned", ((b"Content-Type", b"image/jpeg"),), GARBAGE, "none", 401),
    ("bearer", ((b"Content-Type", b"image/jpeg"), (b"Authorization", b"Bearer x")), GARBAGE, "none", 401),
    ("no-content-type", (), GARBAGE, "oauth", 400),
    ("empty-body", ((b"Content-Type", b"image/jpeg"),), b"", "oauth", 400),
    ("garbage", ((b"Content-Type", b"image/jpeg"),), GARBAGE, "oauth", 415),
    ("pdf", ((b"Content-Type", b"application/pdf"),), PDF, "oauth", 415),
    ("png-header-only", ((b"Content-Type", b"image/png"),), PNG_HEAD, "oauth", None),
    ("filename-10k", ((b"Content-Type", b"image/jpeg"), (b"X-File-Name", b"f" * 7000)), GARBAGE, "oauth", None),
    ("declared-100mib", ((b"Content-Type", b"image/jpeg"), (b"Content-Length", str(100 * 1024 * 1024).encode())),
     GARBAGE, "oauth", 413),
    ("json-malformed", (JSON,), b'{"mimeType": ', "oauth", 400),
    ("json-array", (JSON,), b'["image/jpeg"]', "oauth", 400),
    ("json-deep", (JSON,), DEEP, "oauth", 400),
    ("json-bad-base64", (JSON,), upload_json(mimeType="image/jpeg", data="!!!not base64!!!"), "oauth", 400),
    ("json-data-number", (JSON,), upload_json(mimeType="image/jpeg", data=5), "oauth", 400),
    ("json-mime-object", (JSON,), upload_json(mimeType={"a": 1}, data="aGVsbG8="), "oauth", None),
    ("json-no-data", (JSON,), upload_json(mimeType="image/jpeg"), "oauth", 400),
    ("json-garbage-image", (JSON,), upload_json(mimeType="image/jpeg", data="aGVsbG8gd29ybGQ="), "oauth", 415),
    ("json-unknown-charset", ((b"Content-Type", b"application/json; charset=x-no-such-charset"),),
     upload_json(mimeType="image/jpeg", data="aGVsbG8="), "oauth", None),
    ("multipart-thumbnail", (MULTIPART,),
     multipart(file_part(), part(b"thumbnail", b"t", filename=b"t.jpg", content_type=b"image/jpeg")), "oauth", None),
]


def pumpio_upload_cases() -> Iterator[Case]:
    for name, headers, body, auth, status in PUMP_UPLOADS:
        yield Case(f"pumpio-upload-{name}", "POST", "/api/user/{user}/uploads", "pumpio", headers=headers, body=body,
                   auth=auth, status=status)
    yield Case("pumpio-upload-to-other-user", "POST", "/api/user/{other}/uploads", "pumpio",
               headers=((b"Content-Type", b"image/jpeg"),), body=GARBAGE, auth="oauth", status=403)
    yield Case("pumpio-upload-to-unknown-user", "POST", "/api/user/nobody/uploads", "pumpio",
               headers=((b"Content-Type", b"image/jpeg"),), body=GARBAGE, auth="oauth")


def activity(**fields: object) -> bytes:
    return dumps(fields)


ACTIVITIES: list[tuple[str, bytes, int | None]] = [
    ("malformed-json", b'{"verb": ', 400),
    ("json-array", b'["post"]', 400),
    ("json-null", b"null", 400),
    ("json-number", b"12", 400),
    ("deep-json", DEEP, 400),
    ("deep-json-object", DEEP_OBJECT, 400),
    ("no-verb", activity(object={"objectType": "image", "id": "x"}), 400),
    ("verb-object", activity(verb={"a": 1}, object={"objectType": "note"}), 400),
    ("no-object", activity(verb="post"), 400),
    ("object-string", activity(verb="post", object="x"), 400),
    ("no-object-type", activity(verb="post", object={"id": "x"}), 400),
    ("unknown-object-type", activity(verb="post", object={"objectType": "spaceship"}), 400),
    ("object-type-number", activity(verb="post", object={"objectType": 7}), 400),
    ("post-image-no-id", activity(verb="post", object={"objectType": "image"}), 400),
    ("post-unknown-image", activity(verb="post", object={"objectType": "image", "id": "http://x/api/image/nope"}),
     None),
    ("post-image-id-number", activity(verb="post", object={"objectType": "image", "id": 5}), None),
    ("comment-reply-to-nothing", activity(verb="post", object={"objectType": "comment", "content": "hi",
                                                               "inReplyTo": {"id": "nope"}}), None),
    ("comment-content-object", activity(verb="post", object={"objectType": "comment", "content": {"a": 1},
                                                             "inReplyTo": {"objectType": "image", "id": "x"}}), None),
    ("update-unknown", activity(verb="update", object={"objectType": "image", "id": "nope", "content": "x"}), None),
    ("delete-unknown", activity(verb="delete", object={"objectType": "image", "id": "nope"}), None),
    ("to-not-list", activity(verb="post", object={"objectType": "image", "id": "x"}, to="everyone"), None),
    ("huge-number", b'{"verb": "post", "object": {"objectType": "image", "id": ' + b"9" * 400 + b"}}", None),
    ("invalid-utf8", b'{"verb": "post\xff"}', 400),
]


def pumpio_feed_cases() -> Iterator[Case]:
    for name, body, status in ACTIVITIES:
        yield Case(f"pumpio-feed-{name}", "POST", "/api/user/{user}/feed", "pumpio", headers=(JSON,), body=body,
                   auth="oauth", status=status)
    yield Case("pumpio-feed-unsigned", "POST", "/api/user/{user}/feed", "pumpio", headers=(JSON,),
               body=activity(verb="post", object={"objectType": "note", "content": "x"}), status=401)
    yield Case("pumpio-feed-other-user", "POST", "/api/user/{other}/feed", "pumpio", headers=(JSON,),
               body=activity(verb="post", object={"objectType": "note", "content": "x"}), auth="oauth", status=403,
               error="Not able to post to another users feed.")
    yield Case("pumpio-feed-unknown-charset", "POST", "/api/user/{user}/feed", "pumpio",
               headers=((b"Content-Type", b"application/json; charset=x-no-such-charset"),),
               body=activity(verb="post", object={"objectType": "note", "content": "x"}), auth="oauth", status=415)
    queries = [
        ("count-negative", "count=-1", 400), ("count-201", "count=201", 400), ("count-words", "count=ten", 400),
        ("count-400-digits", "count=" + "9" * 400, 400), ("count-float", "count=1.5", 400),
        ("offset-negative", "offset=-1", 400), ("offset-30-digits", "offset=" + "9" * 30, 400),
        ("offset-words", "offset=x", 400), ("before-unknown", "before=nope", 400),
        ("since-unknown", "since=http%3A%2F%2Fx%2Fapi%2Factivity%2Fnope", 400),
        ("before-and-since", "before=a&since=b", 400), ("offset-and-before", "offset=1&before=a", 400),
        ("count-nul", "count=1%00", 400),
    ]
    for stream in ("feed", "inbox", "feed/major"):
        for name, query, status in queries:
            yield Case(f"pumpio-{stream.replace('/', '-')}-{name}", "GET", f"/api/user/{{user}}/{stream}?{query}",
                       "pumpio", auth="oauth", status=status)
    yield Case("pumpio-inbox-of-other-user", "GET", "/api/user/{other}/inbox", "pumpio", auth="oauth", status=403)
    yield Case("pumpio-feed-unknown-user", "GET", "/api/user/nobody/feed", "pumpio", auth="oauth", status=404)
    for method in ("PUT", "DELETE", "PATCH"):
        yield Case(f"pumpio-feed-method-{method}", method, "/api/user/{user}/feed", "pumpio", auth="oauth",
                   status=405)


def pumpio_object_cases() -> Iterator[Case]:
    ids = [("unknown", "nope"), ("digits-400", "9" * 400), ("nul", "a%00b"), ("dotdot", "..%2F..%2Fetc"),
           ("unicode", "%C3%A9"), ("others-unposted", "{others_media}")]
    for kind in ("image", "comment", "note", "activity"):
        for name, object_id in ids:
            yield Case(f"pumpio-object-{kind}-{name}", "GET", f"/api/{kind}/{object_id}", "pumpio", auth="oauth",
                       status=404)
    yield Case("pumpio-object-unsigned", "GET", "/api/image/{media}", "pumpio", status=401)
    yield Case("pumpio-replies-unknown", "GET", "/api/image/nope/replies", "pumpio", auth="oauth", status=404)
    for name, target, status in [("unknown", "/api/user/nobody", 404), ("unknown-profile", "/api/user/nobody/profile",
                                                                        404),
                                 ("long-name", "/api/user/" + "n" * 3000, 404), ("nul-name", "/api/user/a%00b", 404),
                                 ("unsigned", "/api/user/{user}", 401), ("whoami-unsigned", "/api/whoami", 401)]:
        yield Case(f"pumpio-user-{name}", "GET", target, "pumpio", auth="none" if "unsigned" in name else "oauth",
                   status=status)


# --- Presigned uploads ----------------------------------------------------------------------------

GRANTS: list[tuple[str, tuple[tuple[bytes, bytes], ...], bytes, int | None, str | None]] = [
    ("not-json", (JSON,), b"filename=cat.png", 400, "invalid_json"),
    ("empty", (JSON,), b"", 400, "invalid_json"),
    ("array", (JSON,), b'["cat.png"]', 400, "invalid_json"),
    ("null", (JSON,), b"null", 400, "invalid_json"),
    ("deep-json", (JSON,), DEEP, 400, "invalid_json"),
    ("deep-json-object", (JSON,), DEEP_SMALL_OBJECT, 400, "invalid_json"),
    ("no-filename", (JSON,), dumps({"contentType": "image/png"}), 400, "missing_parameter"),
    ("empty-filename", (JSON,), dumps({"filename": "", "contentType": "image/png"}), 400, "missing_parameter"),
    ("no-content-type-field", (JSON,), dumps({"filename": "cat.png"}), 400, "missing_parameter"),
    ("filename-number", (JSON,), dumps({"filename": 5, "contentType": "image/png"}), 400, "invalid_parameter"),
    ("filename-object", (JSON,), dumps({"filename": {"a": 1}, "contentType": "image/png"}), 400, "invalid_parameter"),
    ("filename-list", (JSON,), dumps({"filename": ["a"], "contentType": "image/png"}), 400, "invalid_parameter"),
    ("filename-slash", (JSON,), dumps({"filename": "a/b.png", "contentType": "image/png"}), 400, "invalid_parameter"),
    ("filename-backslash", (JSON,), dumps({"filename": "a\\b.png", "contentType": "image/png"}), 400,
     "invalid_parameter"),
    ("filename-traversal", (JSON,), dumps({"filename": "../../etc/passwd", "contentType": "image/png"}), 400,
     "invalid_parameter"),
    ("filename-nul", (JSON,), dumps({"filename": "a\u0000.png", "contentType": "image/png"}), 400,
     "invalid_parameter"),
    ("filename-crlf", (JSON,), dumps({"filename": "a\r\n.png", "contentType": "image/png"}), 400,
     "invalid_parameter"),
    ("filename-rtl-override", (JSON,), dumps({"filename": "a\u202egnp.exe", "contentType": "image/png"}), 400,
     "invalid_parameter"),
    ("filename-256-bytes", (JSON,), dumps({"filename": "f" * 252 + ".png", "contentType": "image/png"}), 400,
     "invalid_parameter"),
    ("filename-lone-surrogate", (JSON,), b'{"filename": "a\\ud800.png", "contentType": "image/png"}', 400, None),
    ("content-type-tiff", (JSON,), dumps({"filename": "a.tif", "contentType": "image/tiff"}), 415,
     "unsupported_media_type"),
    ("content-type-html", (JSON,), dumps({"filename": "a.html", "contentType": "text/html"}), 415,
     "unsupported_media_type"),
    ("content-type-number", (JSON,), dumps({"filename": "a.png", "contentType": 5}), 400, "invalid_parameter"),
    ("content-type-object", (JSON,), dumps({"filename": "a.png", "contentType": {"a": 1}}), 400, "invalid_parameter"),
    ("huge-number", (JSON,), b'{"filename": ' + b"9" * 400 + b', "contentType": "image/png"}', 400, None),
    ("body-17k", (JSON,), dumps({"filename": "a.png", "contentType": "image/png", "pad": "p" * 17_000}), 413,
     "too_large"),
    ("declared-1mib", (JSON, (b"Content-Length", b"1048576")), b"{}", 413, "too_large"),
    ("unknown-charset", ((b"Content-Type", b"application/json; charset=x-no-such-charset"),),
     dumps({"filename": "a.png", "contentType": "image/png"}), 415, None),
    ("invalid-utf8", (JSON,), b'{"filename": "\xff.png", "contentType": "image/png"}', 400, "invalid_json"),
]


def presigned_cases() -> Iterator[Case]:
    for name, headers, body, status, code in GRANTS:
        yield Case(f"presigned-grant-{name}", "POST", "/media", "coded", headers=headers, body=body, auth="write",
                   status=status, code=code)
    for name, media_id in [("unknown", "1"), ("400-digits", "9" * 400), ("others", "{others_media}"),
                           ("letters", "abc"), ("nul", "1%00"), ("dotdot", "..%2F1")]:
        yield Case(f"presigned-status-{name}", "GET", f"/media/{media_id}", "coded", auth="write", status=404,
                   code="not_found")
    png = (b"Content-Type", b"image/png")
    puts: list[tuple[str, str, tuple[tuple[bytes, bytes], ...], bytes, int | None, str | None]] = [
        ("no-signature", "{upload_nosig}", (png,), PNG_HEAD, 403, "signature_mismatch"),
        ("wrong-signature", "{upload_badsig}", (png,), PNG_HEAD, 403, "signature_mismatch"),
        ("later-expiry", "{upload_exp}", (png,), PNG_HEAD, 403, "signature_mismatch"),
        ("other-type-in-url", "{upload_ct}", ((b"Content-Type", b"image/gif"),), PNG_HEAD, 403, "signature_mismatch"),
        ("bigger-cap-in-url", "{upload_max}", (png,), PNG_HEAD, 403, "signature_mismatch"),
        ("other-id", "{upload_other_id}", (png,), PNG_HEAD, 403, "signature_mismatch"),
        ("repeated-sig", "{upload}&sig=x", (png,), PNG_HEAD, None, None),
        ("wrong-content-type", "{upload}", ((b"Content-Type", b"image/jpeg"),), PNG_HEAD, 415,
         "content_type_mismatch"),
        ("no-content-type", "{upload}", (), PNG_HEAD, 415, "content_type_mismatch"),
        ("declared-over-cap", "{upload}", (png, (b"Content-Length", str(64 * 1024 + 1).encode())), PNG_HEAD, 413,
         "too_large"),
        ("garbage", "{upload}", (png,), GARBAGE, 415, "type_mismatch"),
        ("pdf", "{upload}", (png,), PDF, 415, "type_mismatch"),
        ("png-header-only", "{upload}", (png,), PNG_HEAD, 422, "corrupt_image"),
        ("empty", "{upload}", (png,), b"", None, None),
        ("cut-short", "{upload}", (png, (b"Content-Length", b"5000")), PNG_HEAD, 400, "incomplete_body"),
        ("unknown-charset", "{upload}", ((b"Content-Type", b"image/png; charset=x-no-such-charset"),), PNG_HEAD,
         None, None),
    ]
    for name, target, headers, body, status, code in puts:
        yield Case(f"presigned-put-{name}", "PUT", target, "coded", headers=headers, body=body, status=status,
                   code=code, close_write=name == "cut-short")
    yield Case("presigned-put-chunked-over-cap", "PUT", "{upload}", "coded",
               headers=((b"Content-Type", b"image/png"), (b"Transfer-Encoding", b"chunked")),
               body=b"".join([f"{8192:x}".encode() + b"\r\n" + PNG_HEAD.ljust(8192, b"\0") + b"\r\n"]
                             + [f"{8192:x}".encode() + b"\r\n" + b"\0" * 8192 + b"\r\n"] * 9) + b"0\r\n\r\n",
               length=False, status=413, code="too_large")
    yield Case("presigned-put-chunked-cut-short", "PUT", "{upload}", "coded",
               headers=((b"Content-Type", b"image/png"), (b"Transfer-Encoding", b"chunked")),
               body=f"{len(PNG_HEAD):x}".encode() + b"\r\n" + PNG_HEAD + b"\r\n", length=False, close_write=True,
               status=400, code="incomplete_body")
    for method in ("PATCH", "DELETE"):
        yield Case(f"presigned-method-{method}-media", method, "/media", "coded", auth="write", status=405)
        yield Case(f"presigned-method-{method}-status", method, "/media/{pending}", "coded", auth="write",
                   status=405)
    yield Case("presigned-method-POST-upload", "POST", "{upload}", "coded", headers=((b"Content-Type", b"image/png"),),
               body=PNG_HEAD, status=405)


# --- Posts and identity ---------------------------------------------------------------------------

def post(**fields: object) -> bytes:
    return dumps({"spaceDID": "did:dfos:k2x9f7qa4zm3", "body": "hello", **fields})


POSTS: list[tuple[str, bytes, int, str]] = [
    ("not-json", b"body=hello", 400, "invalid_json"),
    ("empty", b"", 400, "invalid_json"),
    ("array", b'["hello"]', 400, "invalid_json"),
    ("null", b"null", 400, "invalid_json"),
    ("deep-json", DEEP, 400, "invalid_json"),
    ("deep-json-object", DEEP_OBJECT, 400, "invalid_json"),
    ("invalid-utf8", b'{"spaceDID": "did:a:b", "body": "\xff"}', 400, "invalid_json"),
    ("no-space", dumps({"body": "hello"}), 400, "missing_parameter"),
    ("space-number", post(spaceDID=5), 400, "invalid_parameter"),
    ("space-object", post(spaceDID={"a": 1}), 400, "invalid_parameter"),
    ("space-not-a-did", post(spaceDID="not a did"), 422, "invalid_space_did"),
    ("space-uppercase-method", post(spaceDID="did:DFOS:x"), 422, "invalid_space_did"),
    ("space-nul", post(spaceDID="did:dfos:a\u0000b"), 422, "invalid_space_did"),
    ("space-256", post(spaceDID="did:dfos:" + "a" * 250), 422, "invalid_space_did"),
    ("space-traversal", post(spaceDID="did:dfos:../../x"), 422, "invalid_space_did"),
    ("body-number", post(body=5), 400, "invalid_parameter"),
    ("body-object", post(body={"a": 1}), 400, "invalid_parameter"),
    ("body-list", post(body=["a"]), 400, "invalid_parameter"),
    ("body-5001", post(body="b" * 5001), 422, "body_too_long"),
    ("empty-post", post(body=""), 422, "empty_post"),
    ("no-body-no-attachments", dumps({"spaceDID": "did:dfos:x"}), 422, "empty_post"),
    ("attachments-string", post(attachmentIds="1"), 400, "invalid_parameter"),
    ("attachments-numbers", post(attachmentIds=[1, 2]), 400, "invalid_parameter"),
    ("attachments-object", post(attachmentIds={"a": 1}), 400, "invalid_parameter"),
    ("attachments-nested", post(attachmentIds=[["1"]]), 400, "invalid_parameter"),
    ("attachments-five", post(attachmentIds=["1", "2", "3", "4", "5"]), 422, "too_many_attachments"),
    ("attachments-duplicate", post(attachmentIds=["{media}", "{media}"]), 422, "duplicate_attachment"),
    ("attachments-unknown", post(attachmentIds=["999"]), 422, "media_not_found"),
    ("attachments-others", post(attachmentIds=["{others_media}"]), 422, "media_not_found"),
    ("attachments-not-uploaded", post(attachmentIds=["{pending}"]), 422, "media_not_uploaded"),
    ("attachments-huge-number", b'{"spaceDID": "did:a:b", "attachmentIds": [' + b"9" * 400 + b"]}", 400,
     "invalid_parameter"),
    ("body-129k", post(body="b" * 129 * 1024), 413, "request_too_large"),
]
IDENTITIES: list[tuple[str, bytes, int | None, str | None]] = [
    ("not-json", b"avatarId=1", 400, "invalid_json"),
    ("array", b'["1"]', 400, "invalid_json"),
    ("deep-json", DEEP, 400, "invalid_json"),
    ("no-avatar", b"{}", 400, "missing_parameter"),
    ("avatar-number", b'{"avatarId": 5}', 400, "invalid_parameter"),
    ("avatar-object", b'{"avatarId": {"a": 1}}', 400, "invalid_parameter"),
    ("avatar-unknown", b'{"avatarId": "999"}', 422, "media_not_found"),
    ("avatar-others", b'{"avatarId": "{others_media}"}', 422, "media_not_found"),
    ("avatar-huge-number", b'{"avatarId": ' + b"9" * 400 + b"}", 400, "invalid_parameter"),
    ("body-129k", dumps({"avatarId": "1", "pad": "p" * 129 * 1024}), 413, "request_too_large"),
]


def posts_cases() -> Iterator[Case]:
    for name, body, status, code in POSTS:
        yield Case(f"posts-create-{name}", "POST", "/posts", "coded", headers=(JSON,), body=body, auth="write",
                   status=status, code=code)
    yield Case("posts-create-unknown-charset", "POST", "/posts", "coded",
               headers=((b"Content-Type", b"application/json; charset=x-no-such-charset"),), body=post(),
               auth="write", status=415)
    yield Case("posts-create-declared-1mib", "POST", "/posts", "coded",
               headers=(JSON, (b"Content-Length", b"1048576")), body=post(), auth="write", status=413,
               code="request_too_large")
    for name, body, identity_status, identity_code in IDENTITIES:
        yield Case(f"posts-identity-{name}", "PUT", "/identity/current", "coded", headers=(JSON,), body=body,
                   auth="write", status=identity_status, code=identity_code)
    for name, post_id in [("unknown", "nope"), ("digits-400", "9" * 400), ("nul", "a%00b"), ("dotdot", "..%2Fx")]:
        yield Case(f"posts-get-{name}", "GET", f"/posts/{post_id}", "coded", status=404, code="not_found")
    for method in ("DELETE", "PATCH"):
        yield Case(f"posts-method-{method}", method, "/posts", "coded", auth="write", status=405)
        yield Case(f"posts-identity-method-{method}", method, "/identity/current", "coded", auth="write", status=405)


# --- Transformations ------------------------------------------------------------------------------

BAD_PARAMS = [
    "w=0", "w=-1", "w=abc", "w=8193", "w=1e400", "w=" + "9" * 400, "w=1.5", "w=", "w=1&w=2", "w=%00",
    "h=0", "h=99999", "fit=fill", "fit=", "crop=middle", "crop=top,bottom", "fp-x=2", "fp-y=-0.1", "fp-x=nan",
    "q=101", "q=-1", "dpr=0", "dpr=6", "dpr=inf", "fm=gif", "fm=JPG", "auto=nope", "s=unsigned",
]


def transform_cases() -> Iterator[Case]:
    urls = (("sha256", "/media/sha256/{blob}"), ("files", "/media/files/{blob}/v{version}/original.jpg"))
    for params in BAD_PARAMS:
        for name, target in urls:
            yield Case(f"transform-{name}-{params}", "GET", f"{target}?{params}", "coded", status=400,
                       code="invalid_parameter" if not params.startswith("s=") else None)
    paths = [
        ("sha256-short", "/media/sha256/abc"), ("sha256-uppercase", "/media/sha256/" + "AB" * 32),
        ("sha256-unknown", "/media/sha256/" + "0" * 64), ("sha256-traversal", "/media/sha256/..%2F..%2Fetc%2Fpasswd"),
        ("sha256-nul", "/media/sha256/" + "0" * 63 + "%00"), ("sha256-long", "/media/sha256/" + "a" * 5000),
        ("files-unknown-blob", "/media/files/" + "0" * 64 + "/v1/original.jpg"),
        ("files-unknown-style", "/media/files/{blob}/v{version}/huge.jpg"),
        ("files-unknown-ext", "/media/files/{blob}/v{version}/original.exe"),
        ("files-unknown-version", "/media/files/{blob}/v999/original.jpg"),
        ("files-version-400-digits", "/media/files/{blob}/v" + "9" * 400 + "/original.jpg"),
        ("files-traversal", "/media/files/{blob}/v{version}/..%2F..%2F..%2Fetc%2Fpasswd"),
        ("files-encoded-slash", "/media/files/{blob}%2Fv{version}%2Foriginal.jpg"),
        ("files-bad-blob", "/media/files/not-a-hash/v1/original.jpg"),
        ("files-nul-name", "/media/files/{blob}/v{version}/original.jpg%00"),
    ]
    for name, target in paths:
        yield Case(f"transform-path-{name}", "GET", target, "coded", status=404)
        yield Case(f"transform-path-{name}-with-params", "GET", target + "?w=10", "coded", status=404)
    for method in ("POST", "PUT", "DELETE"):
        yield Case(f"transform-method-{method}-sha256", method, "/media/sha256/{blob}", "coded", status=405)
        yield Case(f"transform-method-{method}-files", method, "/media/files/{blob}/v{version}/original.jpg",
                   "coded", status=405)


# --- Below every gateway: what the HTTP parser refuses ---------------------------------------------

def framing_cases() -> Iterator[Case]:
    targets = ["/api/v1/media", "/api/user/{user}/uploads", "/media", "/posts", "/media/sha256/{blob}"]
    doctored: list[tuple[str, str, tuple[tuple[bytes, bytes], ...], bytes, bool]] = [
        ("header-nul", "POST", ((b"X-Hostile", b"a\x00b"),), b"", True),
        ("header-cr", "POST", ((b"X-Hostile", b"a\rb"),), b"", True),
        ("header-injected-line", "POST", ((b"X-Hostile", b"a\r\nno colon here"),), b"", True),
        ("header-100k", "POST", ((b"X-Hostile", b"h" * 100_000),), b"", True),
        ("authorization-20k", "POST", ((b"Authorization", b"Bearer " + b"t" * 20_000),), b"", True),
        ("lowercase-method", "get", (), b"", True),
        ("unknown-method", "BREW", (), b"", True),
        ("length-and-chunked", "POST", ((b"Content-Length", b"5"), (b"Transfer-Encoding", b"chunked")),
         b"0\r\n\r\n", False),
        ("two-lengths", "POST", ((b"Content-Length", b"1"), (b"Content-Length", b"2")), b"ab", False),
        ("negative-length", "POST", ((b"Content-Length", b"-1"),), b"", False),
        ("length-words", "POST", ((b"Content-Length", b"ten"),), b"", False),
        ("length-400-digits", "POST", ((b"Content-Length", b"9" * 400),), b"", False),
        ("bad-chunk-size", "POST", ((b"Transfer-Encoding", b"chunked"),), b"zz\r\nabc\r\n0\r\n\r\n", False),
    ]
    too_long = {"header-100k", "authorization-20k"}
    for name, method, headers, body, length in doctored:
        for target in targets:
            yield Case(f"framing-{name}-{target}", method, target, "framing", headers=headers, body=body,
                       length=length, status=400, error=runner.TOO_LONG if name in too_long else runner.NOT_HTTP)
    for target in ["/" + "a" * 20_000, "/api/v1/media/" + "9" * 20_000]:
        yield Case(f"framing-target-{len(target)}", "GET", target, "framing", status=400, error=runner.TOO_LONG)


def mastodon_oauth_cases() -> Iterator[Case]:
    """Apps and OAuth 2.0: refused in Mastodon's shape (RFC 6749's on /oauth/*), nothing recorded."""
    oob = "urn:ietf:wg:oauth:2.0:oob"
    yield Case("apps-no-name", "POST", "/api/v1/apps", "mastodon", headers=(JSON,),
               body=dumps({"redirect_uris": oob}), status=422, error="Validation failed: Name can't be blank")
    yield Case("apps-bad-redirect", "POST", "/api/v1/apps", "mastodon", headers=(FORM,),
               body=b"client_name=a&redirect_uris=%00nope", status=422,
               error="Validation failed: Redirect URI must be an absolute URI.")
    yield Case("apps-name-object", "POST", "/api/v1/apps", "mastodon", headers=(JSON,),
               body=dumps({"client_name": {"a": 1}, "redirect_uris": oob}), status=400)
    yield Case("apps-redirects-too-many", "POST", "/api/v1/apps", "mastodon", headers=(JSON,),
               body=dumps({"client_name": "a", "redirect_uris": [f"https://a.example/{i}" for i in range(11)]}),
               status=422)
    yield Case("apps-deep-json", "POST", "/api/v1/apps", "mastodon", headers=(JSON,), body=DEEP_SMALL_OBJECT,
               status=400)
    yield Case("apps-verify-no-token", "GET", "/api/v1/apps/verify_credentials", "mastodon", status=401,
               error=mastodon.TOKEN_INVALID)
    yield Case("oauth2-token-unknown-client", "POST", "/oauth/token", "mastodon", headers=(FORM,),
               body=b"grant_type=client_credentials&client_id=nobody&client_secret=x", status=401,
               error="invalid_client")
    yield Case("oauth2-token-bad-basic", "POST", "/oauth/token", "mastodon", headers=(FORM,),
               body=b"grant_type=client_credentials",
               status=401, error="invalid_client")
    yield Case("oauth2-token-json-array", "POST", "/oauth/token", "mastodon", headers=(JSON,), body=b"[1]",
               status=400)
    yield Case("oauth2-token-deep-json", "POST", "/oauth/token", "mastodon", headers=(JSON,),
               body=DEEP_SMALL_OBJECT, status=400)
    yield Case("oauth2-token-unknown-grant", "POST", "/oauth/token", "mastodon", headers=(FORM,),
               body=b"grant_type=refresh_token&client_id=nobody&client_secret=x")
    yield Case("oauth2-revoke-unknown-client", "POST", "/oauth/revoke", "mastodon", headers=(FORM,),
               body=b"client_id=nobody&client_secret=x&token=y", status=403, error="unauthorized_client")
    yield Case("oauth2-authorize-unknown-client", "GET",
               f"/oauth/authorize?response_type=code&client_id=nobody&redirect_uri={oob}", "mastodon", status=401,
               error="invalid_client")
    yield Case("oauth2-authorize-post-unknown-client", "POST", "/oauth/authorize", "mastodon", headers=(FORM,),
               body=b"response_type=code&client_id=nobody&username=alice&password=x", status=401)
    yield Case("authorize-neither-flow", "POST", "/oauth/authorize", "mastodon", headers=(FORM,),
               body=b"username=alice&password=x", status=400)


class AvSamples(msgspec.Struct, frozen=True):
    """Small video and audio files that are refused from their headers, made once with PyAV."""

    fast: bytes
    streams: bytes
    hours: bytes
    clip: bytes
    zip_as_mp4: bytes = b"PK\x03\x04" + b"\x00" * 2000


def av_samples() -> AvSamples:
    # Imported here: the samples need PyAV, which only these cases do.
    from tests import avsamples

    with tempfile.TemporaryDirectory() as folder:
        place = Path(folder)
        return AvSamples(
            fast=avsamples.h264_mp4(place / "fast.mp4", rate=240, frames=12, audio=None).read_bytes(),
            streams=avsamples.streams(place / "many.mkv", 40).read_bytes(),
            hours=avsamples.long_declared(place / "hours.mkv", 9).read_bytes(),
            clip=avsamples.h264_mp4(place / "clip.mp4", frames=6).read_bytes(),
        )


def av_cases() -> Iterator[Case]:
    """Video and audio refused before anything is decoded, and thumbnails refused for what they are."""
    samples = av_samples()
    refused = [
        ("240fps", samples.fast, "video/mp4", mastodon.too_many_frames(240)),
        ("40-streams", samples.streams, "video/x-matroska", None),
        ("9-hours-in-kb", samples.hours, "video/x-matroska", None),
        ("zip-as-mp4", samples.zip_as_mp4, "video/mp4", mastodon.UNVERIFIED_TYPE),
    ]
    for name, body, content_type, error in refused:
        yield Case(f"mastodon-v2-video-{name}", "POST", "/api/v2/media", "mastodon", headers=(MULTIPART,),
                   body=multipart(file_part(body, b"v.mp4", content_type.encode())), auth="write", status=422,
                   error=error)
        yield Case(f"pumpio-upload-video-{name}", "POST", "/api/user/{user}/uploads", "pumpio",
                   headers=((b"Content-Type", content_type.encode()),), body=body, auth="oauth",
                   status=415 if name == "zip-as-mp4" else 400)
    for name, thumbnail, error in (
        ("garbage", GARBAGE, mastodon.INVALID_THUMBNAIL),
        ("a-video", samples.clip, mastodon.INVALID_THUMBNAIL),
        ("png-header-only", PNG_HEAD, mastodon.INVALID_THUMBNAIL),
    ):
        for order, parts in (("after", (file_part(samples.clip, b"v.mp4", b"video/mp4"),
                                        part(b"thumbnail", thumbnail, filename=b"t.png", content_type=b"image/png"))),
                             ("before", (part(b"thumbnail", thumbnail, filename=b"t.png", content_type=b"image/png"),
                                         file_part(samples.clip, b"v.mp4", b"video/mp4")))):
            yield Case(f"mastodon-v2-video-thumbnail-{name}-{order}", "POST", "/api/v2/media", "mastodon",
                       headers=(MULTIPART,), body=multipart(*parts), auth="write", status=422, error=error)
    yield Case("presigned-video-without-the-setting", "POST", "/media", "coded", headers=(JSON,),
               body=dumps({"filename": "clip.mp4", "contentType": "video/mp4"}), auth="write", status=415,
               code="unsupported_media_type")


def all_cases() -> list[Case]:
    # Imported here: the social cases build on this module's helpers.
    from tests.hostile import social

    cases = [
        *auth_cases(), *mastodon_upload_cases(), *mastodon_media_cases(), *mastodon_status_cases(),
        *pumpio_client_cases(),
        *pumpio_oauth_cases(), *pumpio_discovery_cases(), *pumpio_upload_cases(), *pumpio_feed_cases(),
        *pumpio_object_cases(), *presigned_cases(), *posts_cases(), *transform_cases(), *framing_cases(),
        *mastodon_oauth_cases(), *av_cases(), *social.social_cases(),
    ]
    ids = [case.id for case in cases]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicated, f"case ids must be unique: {duplicated}"
    assert all(case.protocol in PROTOCOLS for case in cases)
    return cases
