"""Bearer tokens looked up lately, kept in memory until the projection says their rows changed.

Every request with a token asks for its row; a lookup is a trip to a reader thread and SQLite, and a
token is used for many requests between its issue and its revocation. The projection tells the grants
of every token a batch issues or revokes (gateways.kit.kept), so a revoked token is refused from the
moment the projection has applied its revocation, as when every request asked SQLite. Only tokens
found are kept: an unknown one may be issued any moment.
"""

from __future__ import annotations

import msgspec

from gateways.kit.kept import Kept


class Grant(msgspec.Struct, frozen=True):
    """An issued bearer token, as the read model holds it."""

    token_hash: str
    # "" for an app's own token (client credentials), which acts for no user.
    user_id: str
    # As issued, in order.
    scopes: tuple[str, ...]
    client_id: str
    # Made by `mediaplex token create`.
    cli: bool


# By token hash.
Grants = Kept[Grant]
