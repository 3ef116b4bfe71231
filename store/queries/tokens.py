"""Questions about access tokens: bearer tokens (by hash) and pump.io's OAuth 1.0a access tokens."""

from __future__ import annotations

import sqlite3

from store.reader import ProjectionReader


async def bearer_token(projection: ProjectionReader, token_hash: str) -> sqlite3.Row | None:
    """`user_id`, `scopes` (space separated), `client_id` (its app, "" for none) and `cli` (1 for a token made
    by `mediaplex token create`) of the token with this hash."""
    return await projection.keyed("SELECT user_id, scopes, client_id, cli FROM tokens WHERE token_hash = ?",
                                (token_hash,))


async def oauth_access_token(projection: ProjectionReader, token: str) -> sqlite3.Row | None:
    """`token`, `secret`, `client_id` and `user_id` of an OAuth access token."""
    return await projection.keyed(
        "SELECT token, secret, client_id, user_id FROM oauth_tokens WHERE token = ?", (token,))


async def token_grant(projection: ProjectionReader, token_hash: str) -> sqlite3.Row | None:
    """`token_id`, `user_id`, `scopes` and `client_id` of the bearer token with this hash."""
    return await projection.keyed(
        "SELECT token_id, user_id, scopes, client_id FROM tokens WHERE token_hash = ?", (token_hash,))
