"""Favourites, reblogs and follows of the Mastodon API as OpenAPI paths and schemas."""

from __future__ import annotations

from typing import Any

from gateways.kit.openapi import PathItem, answer, in_path, in_query, nullable, plain_error, ref
from gateways.mastodon.openapi_statuses import (
    LINK,
    NUMERIC_ID,
    STRING,
    operation,
    page_parameters,
    statuses_answer,
)

BOOLEAN = {"type": "boolean"}
NO_STATUS = plain_error("No such status, or not one the caller can see")
NO_ACCOUNT = plain_error("No such account")


def schemas() -> dict[str, Any]:
    flags = ("following", "showing_reblogs", "notifying", "followed_by", "blocking", "blocked_by", "muting",
             "muting_notifications", "requested", "requested_by", "domain_blocking", "endorsed")
    relationship = {"type": "object", "required": ["id", *flags, "note"], "properties": {
        "id": NUMERIC_ID, **dict.fromkeys(flags, BOOLEAN), "languages": nullable({"type": "array", "items": STRING}),
        "note": STRING}}
    return {"MastodonRelationship": relationship}


def _accounts(description: str) -> dict[str, Any]:
    listed = answer(description, {"type": "array", "items": ref("MastodonAccount")})
    listed["headers"] = LINK
    return listed


def _account_page() -> list[dict[str, Any]]:
    return [in_query(name, STRING) for name in ("max_id", "since_id", "min_id")] + [
        in_query("limit", {"type": "integer", "minimum": 1, "maximum": 80})]


def paths() -> dict[str, PathItem]:
    status_id = in_path("id", {"type": "string", "minLength": 1})
    account_id = in_path("id", {"type": "string", "minLength": 1})
    status = answer("The status", ref("MastodonStatus"))
    relationship = answer("The caller's relationship to the account", ref("MastodonRelationship"))
    reactions: dict[str, PathItem] = {}
    for name, operation_id, summary, extra in (
        ("favourite", "favouriteStatus", "Favourite a status (again is no error); answers it favourited", {}),
        ("unfavourite", "unfavouriteStatus", "Take a favourite back (none is no error); answers the status", {}),
        ("reblog", "reblogStatus",
         "Reblog a status (again is no error); answers the Status wrapping it, whose id names no status here",
         {"403": plain_error("A direct status, or a private one of someone else's: This action is not allowed")}),
        ("unreblog", "unreblogStatus", "Take a reblog back (none is no error); answers the status", {}),
    ):
        reactions[f"/api/v1/statuses/{{id}}/{name}"] = {"parameters": [status_id], "post": operation(
            operation_id, summary, {"200": status, "404": NO_STATUS, **extra})}
    for name, operation_id, who in (("favourited_by", "getStatusFavouritedBy", "favourited"),
                                    ("reblogged_by", "getStatusRebloggedBy", "reblogged")):
        reactions[f"/api/v1/statuses/{{id}}/{name}"] = {"parameters": [status_id], "get": operation(
            operation_id, f"The accounts that {who} a status, the latest first",
            {"200": _accounts("The accounts"), "404": NO_STATUS}, authed=False, parameters=_account_page())}
    people = {f"/api/v1/accounts/{{id}}/{which}": {"parameters": [account_id], "get": operation(
        f"getAccount{which.capitalize()}", f"The account's {which}, the latest follow first",
        {"200": _accounts("The accounts"), "404": NO_ACCOUNT}, authed=False, parameters=_account_page())}
        for which in ("following", "followers")}
    return {
        **reactions,
        "/api/v1/favourites": {"get": operation(
            "getFavourites", "The caller's favourited statuses, the latest favourited first; paged on the "
            "favourites, not on status ids", {"200": statuses_answer("The statuses")}, parameters=page_parameters())},
        "/api/v1/accounts/{id}/follow": {"parameters": [account_id], "post": operation(
            "followAccount", "Follow an account (again is no error)",
            {"200": relationship, "404": NO_ACCOUNT,
             "403": plain_error("The scope is lacking, or: Following your own account is not allowed")})},
        "/api/v1/accounts/{id}/unfollow": {"parameters": [account_id], "post": operation(
            "unfollowAccount", "Stop following an account (not following is no error)",
            {"200": relationship, "404": NO_ACCOUNT})},
        "/api/v1/accounts/relationships": {"get": operation(
            "getRelationships", "The caller's relationship to each account asked for; unknown ids are left out",
            {"200": answer("The relationships", {"type": "array", "items": ref("MastodonRelationship")})},
            parameters=[in_query("id[]", {"type": "array", "items": STRING}), in_query("id", STRING)])},
        **people,
    }
