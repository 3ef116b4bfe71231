"""Bearer tokens kept in memory between requests, and forgotten as the projection applies their changes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import requests

from core.events import TokenIssued, TokenRevoked, UserAdded
from core.ids import token_hash
from core.log import Record
from store.projection import Projection, Told
from tests.servers import Running

TIMEOUT = 10


async def test_each_batch_tells_the_tokens_it_issues_or_revokes(tmp_path: Path) -> None:
    told: list[frozenset[str]] = []
    projection = Projection(tmp_path / "p.db", told=Told(tokens=told.append))
    await projection.open()
    try:
        await projection.apply([
            Record(1, UserAdded(at=1.0, user_id="alice", password_hash="h")),
            Record(2, TokenIssued(at=2.0, token_id="t1", user_id="alice", token_hash="a" * 64, scopes=("read",))),
            Record(3, TokenIssued(at=3.0, token_id="t2", user_id="alice", token_hash="b" * 64, scopes=("read",))),
        ])
        await projection.apply([Record(4, UserAdded(at=4.0, user_id="bob", password_hash="h"))])
        await projection.apply([Record(5, TokenRevoked(at=5.0, token_id="t1", token_hash="a" * 64))])
        assert told == [frozenset({"a" * 64, "b" * 64}), frozenset({"a" * 64})]
    finally:
        await projection.close()


async def test_a_kept_token_is_refused_once_its_revocation_from_elsewhere_is_applied(server: Running) -> None:
    token = await server.token("alice")
    url = f"{server.url}/api/v1/accounts/verify_credentials"

    def verify() -> requests.Response:
        return requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)

    # The first may have waited for the token's issue to be applied, which tells the grants of it:
    # what it read is then not kept, and the second keeps it.
    for _ in range(2):
        assert (await asyncio.to_thread(verify)).status_code == 200
    hashed = token_hash(token)
    assert server.server.grants.get(hashed) is not None
    # Answered from memory.
    assert (await asyncio.to_thread(verify)).status_code == 200
    # Revoked as `mediaplex token revoke` does it, from another process: only the log carries it.
    row = await server.projection.one("SELECT token_id FROM tokens WHERE token_hash = ?", (hashed,))
    assert row is not None
    seq = await server.events.append(TokenRevoked(at=time.time(), token_id=row["token_id"], token_hash=hashed),
                                     msg_id=f"revoke.{row['token_id']}")
    assert await server.projection.wait_for(seq, 10.0)
    assert server.server.grants.get(hashed) is None
    refused = await asyncio.to_thread(verify)
    assert (refused.status_code, refused.json()) == (401, {"error": "The access token is invalid"})
