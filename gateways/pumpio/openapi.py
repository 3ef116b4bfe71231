"""The pump.io / MediaGoblin client API's routes as OpenAPI.

OpenAPI has no OAuth 1.0a scheme: the signed `Authorization: OAuth ...` header is described as an apiKey in
that header (the oauth_* parameters may also travel in the query or a form body, as OAuth 1.0a allows).
"""

from __future__ import annotations

from typing import Any

from gateways.kit.openapi import Fragment, PathItem, answer, in_path, in_query, plain_error, ref, slashed
from gateways.pumpio.paging import MAX_COUNT, MAX_OFFSET

TAG = "pumpio"
STRING = {"type": "string"}
FORM = "application/x-www-form-urlencoded"
OAUTH: list[dict[str, list[str]]] = [{"oauth1": []}]
UNAUTHORIZED = plain_error("No OAuth credentials, or a bad signature, token, nonce or timestamp")
BAD_REQUEST = plain_error("A malformed request")
NO_USER = plain_error("No such user")
UNAVAILABLE = plain_error("The log is unreachable; try again")
USER = in_path("user", {"type": "string", "minLength": 1}, "A local user's nickname")
OBJECT_ID = in_path("id", {"type": "string", "minLength": 1})
COUNT = in_query("count", {"type": "integer", "minimum": 0, "maximum": MAX_COUNT, "default": 20},
                 "How many items a page holds")
OFFSET = in_query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
                  "How many of the newest items to skip")


def _object(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": properties}


def _schemas() -> dict[str, Any]:
    link = _object(["href"], {"href": STRING})
    thing = _object(["id", "objectType"], {"id": STRING, "objectType": STRING})
    file = _object(["url", "width", "height"], {"url": STRING, "width": {"type": "integer"},
                                                "height": {"type": "integer"}})
    person = _object(["id", "objectType", "preferredUsername"], {
        "id": STRING, "objectType": {"const": "person"}, "preferredUsername": STRING, "displayName": STRING,
        "links": {"type": "object", "additionalProperties": link},
    })
    image = _object(["id", "objectType", "url"], {
        "id": STRING, "objectType": {"enum": ["image", "video", "audio"]}, "url": STRING,
        "author": ref("PumpPerson"), "image": file, "fullImage": file, "tags": {"type": "array"},
        "displayName": STRING, "content": STRING, "license": STRING,
        # Where it was made, as a post or update gave it.
        "location": {"type": "object", "properties": {"objectType": {"const": "place"}, "displayName": STRING}},
        # Video and audio: the file to play, with what is known of it.
        "stream": _object(["url"], {"url": STRING}),
        "replies": ref("PumpEmbeddedReplies"),
    })
    # An image's or note's comments: how many, the newest few, and the page where all of them are.
    embedded_replies = _object(["totalItems", "items", "url"], {
        "totalItems": {"type": "integer", "minimum": 0}, "items": {"type": "array", "items": ref("PumpComment")},
        "url": STRING,
    })
    note = _object(["id", "objectType", "author", "content", "replies"], {
        "id": STRING, "objectType": {"const": "note"}, "author": ref("PumpPerson"), "content": STRING,
        "displayName": STRING, "attachments": {"type": "array", "items": ref("PumpImage")},
        "replies": ref("PumpEmbeddedReplies"), "published": STRING,
    })
    activity = _object(["id", "objectType", "verb", "actor", "object"], {
        "id": STRING, "objectType": {"const": "activity"}, "verb": STRING, "actor": ref("PumpPerson"),
        "object": thing, "content": STRING, "published": STRING,
    })
    def collection(item: dict[str, Any]) -> dict[str, Any]:
        return _object(["displayName", "url", "items", "totalItems", "links"], {
            "displayName": STRING, "url": STRING, "objectTypes": {"type": "array", "items": STRING},
            "items": {"type": "array", "items": item}, "totalItems": {"type": "integer", "minimum": 0},
            "links": _object(["first", "self"], {name: link for name in ("first", "self", "prev", "next")}),
        })

    comment = _object(["id", "objectType", "author", "content", "inReplyTo"], {
        "id": STRING, "objectType": {"const": "comment"}, "author": ref("PumpPerson"), "content": STRING,
        # The image or note commented on: whole, or by id and type inside that object's replies.
        "inReplyTo": thing, "published": STRING,
    })
    registration = {"type": "object", "required": ["type"], "properties": {
        "type": {"enum": ["client_associate", "client_update"]},
        "client_id": STRING, "client_secret": STRING,
        "application_type": {"enum": ["web", "native"]},
        "application_name": STRING,
        "logo_uri": {"type": "string", "format": "uri"},
        "contacts": {"anyOf": [STRING, {"type": "array", "items": STRING}],
                     "description": "Email addresses, space-separated or a list"},
        "redirect_uris": {"anyOf": [STRING, {"type": "array", "items": STRING}]},
    }}
    credentials = _object(["client_id", "client_secret", "expires_at"], {
        "client_id": STRING, "client_secret": STRING, "expires_at": {"type": "integer"},
    })
    links = {"type": "array", "items": {"type": "object", "properties": {
        "rel": STRING, "href": STRING, "template": STRING, "type": STRING}}}
    return {
        "PumpPerson": person,
        "PumpObject": thing,
        "PumpImage": image,
        "PumpActivity": activity,
        "PumpComment": comment,
        "PumpNote": note,
        "PumpEmbeddedReplies": embedded_replies,
        "PumpFeed": collection(ref("PumpActivity")),
        "PumpReplies": collection(ref("PumpComment")),
        "PumpMembers": collection(thing),
        "PumpPeople": collection(ref("PumpPerson")),
        "PumpObjects": collection(ref("PumpObject")),
        "PumpUploads": collection(ref("PumpImage")),
        "PumpRegistration": registration,
        "PumpClientCredentials": credentials,
        "PumpLinks": _object(["links"], {"links": links}),
        "PumpWebFinger": _object(["subject", "links"], {"subject": STRING, "links": links}),
        "PumpUser": _object(["nickname", "profile"], {"nickname": STRING, "profile": ref("PumpPerson")}),
    }


def _signed(operation: dict[str, Any]) -> dict[str, Any]:
    operation.setdefault("tags", [TAG])
    operation["security"] = OAUTH
    operation["responses"].setdefault("400", BAD_REQUEST)
    operation["responses"]["401"] = UNAUTHORIZED
    return operation


def _open(operation: dict[str, Any]) -> dict[str, Any]:
    operation.setdefault("tags", [TAG])
    return operation


def _discovery() -> dict[str, PathItem]:
    endpoints = answer("Where the OAuth and API endpoints are: JSON when Accept names application/json, else XRD",
                       STRING, media="application/xrd+xml", headers={"Vary": {"schema": STRING}})
    endpoints["content"]["application/json"] = {"schema": ref("PumpLinks")}
    host_meta = {"get": _open({
        "operationId": "getHostMeta", "summary": "host-meta as XRD, or as JSON to who accepts it",
        "responses": {"200": endpoints},
    })}
    host_meta_json = {"get": _open({
        "operationId": "getHostMetaJson", "summary": "host-meta as JSON",
        "responses": {"200": answer("Where the OAuth and API endpoints are", ref("PumpLinks"))},
    })}
    webfinger = {"get": _open({
        "operationId": "getWebFinger", "summary": "Look up a local user",
        "parameters": [in_query("resource", STRING, "acct:user@host or user@host", required=True)],
        "responses": {
            "200": answer("The user's links", ref("PumpWebFinger"), media="application/jrd+json"),
            "400": plain_error("No resource parameter"),
            "404": plain_error("Not a local user, or an empty resource"),
        },
    })}
    return {
        "/": {"head": _open({"operationId": "headRoot", "summary": "Where the server is (PyPump asks)",
                             "responses": {"200": answer("Here")}})},
        **slashed("/.well-known/host-meta", host_meta),
        **slashed("/.well-known/host-meta.json", host_meta_json),
        **slashed("/.well-known/webfinger", webfinger),
    }


def _oauth() -> dict[str, PathItem]:
    tokens = answer("The token and its secret", _form_schema(["oauth_token", "oauth_token_secret"]), media=FORM)
    request_token = {"post": _signed({
        "operationId": "postRequestToken", "summary": "A request token, signed by the client alone",
        "responses": {"200": tokens},
    })}
    access_token = {"post": _signed({
        "operationId": "postAccessToken", "summary": "Exchange an approved request token and its verifier",
        "responses": {"200": tokens},
    })}
    return {
        **slashed("/oauth/request_token", request_token),
        **slashed("/oauth/access_token", access_token),
    }


def _form_schema(names: list[str]) -> dict[str, Any]:
    return _object(names, {name: STRING for name in names})


def _clients() -> dict[str, PathItem]:
    register = {"post": _open({
        "operationId": "postClientRegister", "summary": "Register a client, or update one",
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": ref("PumpRegistration")},
            FORM: {"schema": ref("PumpRegistration")},
        }},
        "responses": {
            "200": answer("The client's credentials", ref("PumpClientCredentials")),
            "400": plain_error("A malformed registration"),
            "403": plain_error("Unknown client or wrong secret"),
            "503": UNAVAILABLE,
        },
    })}
    return slashed("/api/client/register", register)


def _users() -> dict[str, PathItem]:
    whoami = {"get": _signed({
        "operationId": "getWhoami", "summary": "Redirect to the signed-in user's profile",
        "responses": {"302": answer("To the profile", headers={"Location": {"schema": STRING}})},
    })}
    user = {"parameters": [USER], "get": _signed({
        "operationId": "getUser", "summary": "A user",
        "responses": {"200": answer("The user", ref("PumpUser")), "404": NO_USER},
    })}
    profile = {"parameters": [USER], "get": _signed({
        "operationId": "getProfile", "summary": "A user's person object",
        "responses": {"200": answer("The person", ref("PumpPerson")), "404": NO_USER},
    })}
    return {
        **slashed("/api/whoami", whoami),
        **slashed("/api/user/{user}", user),
        **slashed("/api/user/{user}/profile", profile),
    }


def _uploads() -> dict[str, PathItem]:
    raw = {"type": "string", "contentMediaType": "application/octet-stream"}
    pump_json = _object(["data"], {"mimeType": STRING, "data": {"type": "string", "contentEncoding": "base64"}})
    upload = {"parameters": [USER], "post": _signed({
        "operationId": "postUpload", "summary": "Upload an image: its bytes, or pump.io's JSON with base64 data",
        "requestBody": {"required": True, "content": {
            "image/*": {"schema": raw},
            "application/octet-stream": {"schema": raw},
            "application/json": {"schema": pump_json},
        }},
        "responses": {
            "200": answer("The image, with image and fullImage once processed", ref("PumpImage")),
            "400": plain_error("No Content-Type, empty, corrupt, bad JSON or base64, or processing failed"),
            "403": plain_error("Another user's uploads"),
            "404": NO_USER,
            "413": plain_error("Larger than the size limit"),
            "415": plain_error("Not an image type the service takes"),
            "503": UNAVAILABLE,
        },
    })}
    upload["get"] = _signed({
        "operationId": "getUploads", "summary": "The owner's uploads, posted or not, newest first",
        "parameters": [COUNT, OFFSET],
        "responses": {
            "200": answer("A page of uploads", ref("PumpUploads")),
            "400": plain_error("A bad count or offset"),
            "403": plain_error("Another user's uploads"),
            "404": NO_USER,
        },
    })
    return slashed("/api/user/{user}/uploads", upload)


def _feeds() -> dict[str, PathItem]:
    post = {"post": _signed({
        "operationId": "postActivity", "summary": "Post an activity (post, update, delete, share...) to one's feed",
        "description": "An object's `content` is kept as HTML cut to pump.io's whitelist, its `displayName` "
                       "and `license` as plain text. A comment's `inReplyTo` names a posted image, video or "
                       "audio file, or a note, by its id (or as an object with `id` and `objectType`).",
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["verb", "object"],
            "properties": {"verb": STRING, "object": {"type": "object"}},
        }}}},
        "responses": {
            "200": answer("The activity", ref("PumpActivity")),
            "403": plain_error("Another user's feed, or another author's object"),
            "404": plain_error("No such user, image, note or comment"),
            "400": plain_error("A verb this server does not implement, or an activity it cannot take"),
            "503": UNAVAILABLE,
        },
    })}
    paths: dict[str, PathItem] = {}
    for stream, name in (
        ("feed", "Feed"), ("feed/major", "FeedMajor"), ("feed/minor", "FeedMinor"),
        ("inbox", "Inbox"), ("inbox/major", "InboxMajor"), ("inbox/minor", "InboxMinor"),
        ("inbox/direct", "InboxDirect"), ("inbox/direct/major", "InboxDirectMajor"),
        ("inbox/direct/minor", "InboxDirectMinor"),
    ):
        item: PathItem = {"parameters": [USER]}
        if stream.startswith("feed"):
            # As on pump.io, /feed/major takes only major activities and /feed/minor only minor ones.
            item["post"] = {**post["post"], "operationId": f"post{name.replace('Feed', 'Activity')}"}
        item["get"] = _signed({
            "operationId": f"get{name}", "summary": f"The user's {stream.replace('/', ' ')}, newest first",
            "parameters": [
                COUNT, OFFSET,
                in_query("before", STRING, "An activity id or URL: the page of older ones"),
                in_query("since", STRING, "An activity id or URL: the page of newer ones"),
            ],
            "responses": {
                "200": answer("A page of activities", ref("PumpFeed")),
                "400": plain_error("A bad count or offset, both before and since, or an unknown activity"),
                "403": plain_error("Another user's inbox"),
                "404": NO_USER,
            },
        })
        paths.update(slashed(f"/api/user/{{user}}/{stream}", item))
    return paths


def _changers(kind: str, schema: str) -> PathItem:
    """PUT and DELETE by the author: the feed's update and delete of the object."""
    refused = {"403": plain_error(f"Another author's {kind}"), "404": plain_error(f"No such {kind}"),
               "503": UNAVAILABLE}
    return {
        "put": _signed({
            "operationId": f"put{kind.capitalize()}", "summary": f"Update a {kind}, as an update activity",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
            "responses": {"200": answer(f"The {kind} as it now is", ref(schema)), **refused},
        }),
        "delete": _signed({
            "operationId": f"delete{kind.capitalize()}", "summary": f"Delete a {kind}, as a delete activity",
            "responses": {"200": answer('The JSON string "Deleted"', {"const": "Deleted"}), **refused},
        }),
    }


def _objects() -> dict[str, PathItem]:
    def one(kind: str, schema: str, extra: list[dict[str, Any]] | None = None) -> PathItem:
        return {"parameters": [OBJECT_ID], "get": _signed({
            "operationId": f"get{kind.capitalize()}", "summary": f"A {kind}",
            "parameters": extra or [],
            "responses": {"200": answer(f"The {kind}", ref(schema)), "404": plain_error(f"No such {kind}")},
        })}

    def replies(kind: str) -> PathItem:
        return {"parameters": [OBJECT_ID], "get": _signed({
            "operationId": f"get{kind.capitalize()}Replies",
            "summary": f"A page of the comments on a {kind}, newest first",
            "parameters": [COUNT, OFFSET],
            "responses": {"200": answer("The comments", ref("PumpReplies")),
                          "400": plain_error("A bad count or offset"),
                          "404": plain_error(f"No such {kind}")},
        })}

    def changed(kind: str, schema: str) -> PathItem:
        return {**one(kind, schema), **_changers(kind, schema)}

    media: dict[str, PathItem] = {}
    for kind in ("image", "video", "audio"):
        media.update(slashed(f"/api/{kind}/{{id}}", changed(kind, "PumpImage")))
        media.update(slashed(f"/api/{kind}/{{id}}/replies", replies(kind)))
    return {
        **media,
        **slashed("/api/comment/{id}", changed("comment", "PumpComment")),
        **slashed("/api/note/{id}", changed("note", "PumpNote")),
        **slashed("/api/note/{id}/replies", replies("note")),
        **slashed("/api/activity/{id}", one("activity", "PumpActivity")),
    }


def _collections() -> dict[str, PathItem]:
    cursor = [COUNT, OFFSET, in_query("before", STRING, "An item's id: the page of older ones"),
              in_query("since", STRING, "An item's id: the page of newer ones")]
    collection: PathItem = {"parameters": [OBJECT_ID], "get": _signed({
        "operationId": "getCollection", "summary": "A collection (an album or a list) and how many members it has",
        "responses": {"200": answer("The collection", ref("PumpObject")), "404": plain_error("No such collection")},
    }), **_changers("collection", "PumpObject")}
    members: PathItem = {"parameters": [OBJECT_ID], "get": _signed({
        "operationId": "getCollectionMembers", "summary": "A page of a collection's members, newest first",
        "parameters": cursor,
        "responses": {"200": answer("The members", ref("PumpMembers")),
                      "400": plain_error("A bad count or offset, both before and since, or an unknown member"),
                      "404": plain_error("No such collection")},
    })}
    lists: PathItem = {"parameters": [USER, in_path("type", {"type": "string", "minLength": 1},
                                                    "The object type the collections are meant for")],
                       "get": _signed({
        "operationId": "getUserLists", "summary": "A page of the user's collections meant for that object type",
        "parameters": cursor,
        "responses": {"200": answer("The collections", ref("PumpMembers")),
                      "400": plain_error("A bad count or offset, both before and since, or an unknown collection"),
                      "404": NO_USER},
    })}
    return {**slashed("/api/collection/{id}", collection), **slashed("/api/collection/{id}/members", members),
            **slashed("/api/user/{user}/lists/{type}", lists)}


def _social() -> dict[str, PathItem]:
    """Who favorited or shared an object; what a person favorited; who follows them and whom they follow."""
    def page(operation_id: str, summary: str, schema: str, parameter: dict[str, Any], missing: str) -> PathItem:
        return {"parameters": [parameter], "get": _signed({
            "operationId": operation_id, "summary": summary, "parameters": [COUNT, OFFSET],
            "responses": {"200": answer("A page, latest first", ref(schema)),
                          "400": plain_error("A bad count or offset"), "404": plain_error(missing)},
        })}

    paths: dict[str, PathItem] = {}
    for kind in ("image", "video", "audio", "note", "comment"):
        missing = "No such image" if kind in ("video", "audio") else f"No such {kind}"
        for name, who in (("likes", "favorited"), ("shares", "shared")):
            paths.update(slashed(f"/api/{kind}/{{id}}/{name}", page(
                f"get{kind.capitalize()}{name.capitalize()}", f"The people who {who} a {kind}", "PumpPeople",
                OBJECT_ID, missing)))
    paths.update(slashed("/api/user/{user}/favorites", page(
        "getFavorites", "What the user favorited", "PumpObjects", USER, "No such user")))
    paths.update(slashed("/api/user/{user}/followers", page(
        "getFollowers", "The people who follow the user", "PumpPeople", USER, "No such user")))
    paths.update(slashed("/api/user/{user}/following", page(
        "getFollowing", "The people the user follows", "PumpPeople", USER, "No such user")))
    return paths


def _with_options(paths: dict[str, PathItem]) -> dict[str, PathItem]:
    """Every API path answers OPTIONS with the methods it takes in `Allow`."""
    for path, item in paths.items():
        if not path.startswith("/api/"):
            continue
        named = next(op["operationId"] for op in item.values() if isinstance(op, dict) and "operationId" in op)
        item["options"] = _open({
            "operationId": f"options{named[0].upper()}{named[1:]}", "summary": "The methods this path takes",
            "responses": {"200": answer("No body", headers={"Allow": {"schema": STRING}})},
        })
    return paths


def fragment() -> Fragment:
    return Fragment(
        paths=_with_options({**_discovery(), **_clients(), **_oauth(), **_users(), **_uploads(), **_feeds(),
                             **_objects(), **_collections(), **_social()}),
        schemas=_schemas(),
        security_schemes={"oauth1": {
            "type": "apiKey", "in": "header", "name": "Authorization",
            "description": "OAuth 1.0a, HMAC-SHA1: `OAuth oauth_consumer_key=..., oauth_token=..., "
                           "oauth_signature=...` from /oauth/request_token, /oauth/authorize and /oauth/access_token",
        }},
        tags=({"name": TAG, "description": "The pump.io / GNU MediaGoblin client API"},),
    )
