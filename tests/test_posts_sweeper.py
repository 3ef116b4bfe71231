"""Media a post or a profile uses is never swept as unposted, whichever API uploaded it."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp

from core.events import MediaDeleted
from mediaplex.sweeper import Sweeper, SweepSettings
from tests.servers import Running
from tests.test_posts import api, media_row
from tests.test_pumpio_feed import jpeg, login

DAY = 24 * 3600.0


async def test_attached_media_survives_the_sweep(server: Running, tmp_path: Path) -> None:
    pump = await login(server, "alice")
    uploads = []
    for seed in range(3):
        answer = await pump.upload(jpeg(tmp_path, seed=seed))
        assert answer.status == 200
        uploads.append(answer.json["id"].rsplit("/", 1)[1])
    in_post, as_avatar, unattached = uploads
    async with aiohttp.ClientSession() as http:
        alice = await api(server, http, "alice")
        post = await alice.post("Kept", [in_post])
        assert post.status == 201
        assert (await alice.call("PUT", "/identity/current", json={"avatarId": as_avatar})).status == 200
        assert {(await media_row(server, m))["via"] for m in uploads} == {"pumpio"}

        # Two days on, every one of them is past the unposted TTL.
        later = time.time() + 2 * DAY
        sweeper = Sweeper(server.events, server.projection, server.server.blobs, server.config.renditions,
                          SweepSettings(), clock=lambda: later)
        report = await sweeper.sweep_once()
        assert report.expired == 1
        swept = [r.event async for r in server.events.read(1, follow=False) if isinstance(r.event, MediaDeleted)]
        assert [(e.media_id, e.reason) for e in swept] == [(unattached, "unposted")]
        left = await server.projection.read(
            lambda conn: {row[0] for row in conn.execute("SELECT media_id FROM media")})
        assert left == {in_post, as_avatar}
        assert server.server.blobs.exists((await media_row(server, in_post))["blob"])

        # Both still serve: the post with its picture, the profile with its own.
        shown = await alice.call("GET", f"/posts/{post.json['id']}")
        assert shown.json["attachments"][0]["status"] == "ready"
        async with http.get(shown.json["attachments"][0]["url"]) as response:
            assert response.status == 200
        identity = await alice.call("GET", "/identity/current")
        assert identity.json["avatar"]["status"] == "ready"
        assert (await sweeper.sweep_once()).expired == 0
