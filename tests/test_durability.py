"""Restarts lose nothing; rebuilds fold to the same digest; renditions come back from blobs."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import aiohttp

from mediaplex.cli import rebuild
from tests import images
from tests.servers import make_config, start, swapped


async def post(session: aiohttp.ClientSession, url: str, token: str, data: bytes, **fields: str) -> dict:
    form = aiohttp.FormData(fields)
    form.add_field("file", io.BytesIO(data), filename="x.jpg", content_type="image/jpeg")
    async with session.post(f"{url}/api/v1/media", data=form, headers={"Authorization": f"Bearer {token}"}) as r:
        assert r.status == 200
        return await r.json()


async def test_restart_loses_nothing_and_rebuild_matches(nats_url: str, data_dir: Path, tmp_path: Path) -> None:
    config = make_config(nats_url, data_dir)
    server = await start(config)
    async with aiohttp.ClientSession() as http:
        token = await server.token("alice")
        posted = [await post(http, server.url, token, images.jpeg(tmp_path / f"{i}.jpg", 320, 240, seed=i)
                             .read_bytes(), description=f"photo {i}") for i in range(3)]
        async with http.put(f"{server.url}/api/v1/media/{posted[0]['id']}", data={"focus": "0.5,0.5"},
                            headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 200
        async with http.delete(f"{server.url}/api/v1/media/{posted[2]['id']}",
                               headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 200
        live = await server.projection.digest()
        await server.server.stop()

        # The same data directory and log: everything is still there, nothing applied twice.
        again = await start(config)
        try:
            assert await again.projection.digest() == live
            async with http.get(f"{again.url}/api/v1/media/{posted[0]['id']}",
                                headers={"Authorization": f"Bearer {token}"}) as r:
                assert r.status == 200
                body = await r.json()
            assert body["description"] == "photo 0" and body["meta"]["focus"] == {"x": 0.5, "y": 0.5}

            # A rebuild from sequence 1 while the server runs folds to the same digest.
            out, err = io.StringIO(), io.StringIO()
            assert await rebuild(again.config, out, err) == 0
            lines = out.getvalue().splitlines()
            assert lines[-1] == live[1]
            assert lines[0].startswith(f"rebuilt {live[0]} events")
            rebuilt = Path(lines[0].rsplit(" into ", 1)[1])
            # The running server moves to the rebuilt file by itself.
            assert await swapped(again, rebuilt)
            assert await again.projection.digest() == live

            # Renditions are derived data: wiped, they come back byte for byte from the blob.
            async with http.get(body["url"]) as r:
                before = await r.read()
            shutil.rmtree(config.renditions)
            async with http.get(body["url"]) as r:
                assert r.status == 200
                assert await r.read() == before
        finally:
            await again.server.stop()

        # The rebuilt file stays the live one on the next start.
        third = await start(config)
        try:
            assert await third.projection.digest() == live
            assert third.projection.path == rebuilt
            assert sorted(p.name for p in config.projection_dir.glob("*.db")) == [rebuilt.name]
        finally:
            await third.server.stop()


async def test_first_start_creates_admin_once(nats_url: str, data_dir: Path) -> None:
    config = make_config(nats_url, data_dir)
    first = await start(config)
    await first.server.stop()
    said = "\n".join(first.said)
    assert "created the user 'admin'" in said and "token:" in said and "curl" in said
    assert (data_dir / "sample.jpg").exists()
    second = await start(config)
    await second.server.stop()
    assert not any("admin" in line for line in second.said)
