"""A rebuild promoted while a gateway serves is swapped in live: no request fails, nothing is lost."""

from __future__ import annotations

import asyncio
import io
import sqlite3
import time
from pathlib import Path

import aiohttp
import pytest
import requests

from core.events import UserAdded
from core.jetstream import JetStreamLog
from core.log import Record
from mediaplex.admin import create_token
from mediaplex.cli import rebuild
from mediaplex.runtime import catch_up, projection_at
from store.live import LiveProjection
from store.projection import CHECKPOINT
from tests import images
from tests.servers import Running, make_config, start, swapped
from tests.test_cli import run, serve
from tests.test_projection import uploaded

DEADLINE = 60.0


pytestmark = [pytest.mark.server(topologies=("serve", "gateway")), pytest.mark.http(timeout=30)]


class Traffic:
    """Uploads and reads over HTTP in a loop, keeping every answer that was not a success."""

    def __init__(self, http: aiohttp.ClientSession, server: Running, token: str, images_dir: Path) -> None:
        self._http = http
        self._url = server.url
        self._headers = {"Authorization": f"Bearer {token}"}
        self._images = images_dir
        self.uploaded: list[str] = []
        self.answered = 0
        self.failures: list[str] = []
        self._stop = asyncio.Event()
        self._answers = asyncio.Condition()

    async def run(self, clients: int = 4) -> None:
        """Several clients at once, so requests are in flight on the old file when the swap comes."""
        await asyncio.gather(*(self._client(n) for n in range(clients)))

    async def _client(self, client: int) -> None:
        seed = 0
        while not self._stop.is_set():
            seed += 1
            data = images.jpeg(self._images / f"{client}-{seed}.jpg", 48, 32, seed=seed).read_bytes()
            form = aiohttp.FormData()
            form.add_field("file", io.BytesIO(data), filename="x.jpg", content_type="image/jpeg")
            async with self._http.post(f"{self._url}/api/v2/media", data=form, headers=self._headers) as r:
                body = await r.json()
                await self._check("POST /api/v2/media", r.status, (200, 202))
            if r.status in (200, 202):
                self.uploaded.append(body["id"])
            for media_id in self.uploaded[-3:]:
                async with self._http.get(f"{self._url}/api/v1/media/{media_id}", headers=self._headers) as r:
                    await self._check(f"GET /api/v1/media/{media_id}", r.status, (200, 206))
            async with self._http.get(f"{self._url}/api/v1/accounts/verify_credentials",
                                      headers=self._headers) as r:
                await self._check("GET verify_credentials", r.status, (200,))
            async with self._http.get(f"{self._url}/api/v1/instance") as r:
                await self._check("GET /api/v1/instance", r.status, (200,))

    async def _check(self, what: str, status: int, good: tuple[int, ...]) -> None:
        self.answered += 1
        if status not in good:
            self.failures.append(f"{what} -> {status}")
        async with self._answers:
            self._answers.notify_all()

    async def more(self, count: int) -> None:
        """Wait until `count` more answers came back."""
        target = self.answered + count
        async with asyncio.timeout(DEADLINE), self._answers:
            await self._answers.wait_for(lambda: self.answered >= target)

    def stop(self) -> None:
        self._stop.set()


async def fresh_digest(events: JetStreamLog, directory: Path) -> tuple[int, str]:
    """What folding the whole log into a new file gives, right now."""
    async with projection_at(directory / "check.db") as projection:
        await catch_up(events, projection)
        return await projection.digest()


async def settled(server: Running, http: aiohttp.ClientSession, token: str, media_ids: list[str]) -> None:
    """Every upload has its outcome and the live projection has folded the whole log."""
    async with asyncio.timeout(DEADLINE):
        for media_id in media_ids:
            while True:
                async with http.get(f"{server.url}/api/v1/media/{media_id}",
                                    headers={"Authorization": f"Bearer {token}"}) as r:
                    assert r.status in (200, 206)
                    if r.status == 200:
                        break
                await asyncio.sleep(0.05)
    assert await server.projection.wait_for(await server.events.last_seq(), timeout=DEADLINE)


async def test_rebuild_is_swapped_in_while_requests_keep_succeeding(
        server: Running, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    token = await server.token("alice")
    before = server.projection.path
    traffic = Traffic(http, server, token, tmp_path)
    running = asyncio.create_task(traffic.run())
    try:
        await traffic.more(20)
        out = io.StringIO()
        assert await rebuild(server.config, out, io.StringIO()) == 0
        lines = out.getvalue().splitlines()
        rebuilt = Path(lines[0].rsplit(" into ", 1)[1])
        uploaded_by_then = list(traffic.uploaded)
        assert await swapped(server, rebuilt)
        # Keep going on the new file for a while before looking.
        await traffic.more(20)
    finally:
        traffic.stop()
        async with asyncio.timeout(DEADLINE):
            await running

    assert traffic.failures == []
    assert rebuilt != before and not before.exists()
    assert (server.config.projection_dir / "CURRENT").read_text().strip() == rebuilt.name
    assert server.server.generations is not None and server.server.generations.swaps == 1
    # The rebuild stopped at its head; what came in after it is there too, on the new file.
    assert set(uploaded_by_then) < set(traffic.uploaded)
    await settled(server, http, token, traffic.uploaded)
    current = server.projection.current
    assert current.path == rebuilt
    for media_id in traffic.uploaded:
        row = await current.one("SELECT media_id FROM media WHERE media_id = ?", (media_id,))
        assert row is not None
    assert await server.projection.digest() == await fresh_digest(server.events, tmp_path)
    # The rebuild printed the digest of the log as it was then; a later one agrees with the live file.
    again = io.StringIO()
    assert await rebuild(server.config, again, io.StringIO()) == 0
    assert again.getvalue().splitlines()[-1] == (await server.projection.digest())[1]


async def test_events_appended_during_the_rebuild_reach_the_new_file(
        server: Running, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    events = server.events
    await server.token("alice")
    # A backlog, so the rebuild has folding to do while tokens keep coming.
    for n in range(300):
        await events.append(UserAdded(at=0.0, user_id=f"u{n}", password_hash="x"), msg_id=f"u{n}.added")
    tokens: list[tuple[int, str]] = []
    stop, started = asyncio.Event(), asyncio.Event()

    async def append() -> None:
        while not stop.is_set():
            token = await create_token(events, "alice", ("read",))
            tokens.append((await events.last_seq(), token))
            if len(tokens) >= 5:
                started.set()

    appending = asyncio.create_task(append())
    try:
        async with asyncio.timeout(DEADLINE):
            await started.wait()
        out = io.StringIO()
        assert await rebuild(server.config, out, io.StringIO()) == 0
        first = out.getvalue().splitlines()[0]
        folded = int(first.split()[1])
        rebuilt = Path(first.rsplit(" into ", 1)[1])
        assert await swapped(server, rebuilt)
    finally:
        stop.set()
        async with asyncio.timeout(DEADLINE):
            await appending

    # Some tokens came after the rebuild's last event: the swap caught the new file up with them.
    assert any(seq > folded for seq, _ in tokens)
    assert await server.projection.wait_for(await events.last_seq(), timeout=DEADLINE)
    for _, token in tokens:
        async with http.get(f"{server.url}/api/v1/accounts/verify_credentials",
                            headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 200
    assert await server.projection.digest() == await fresh_digest(events, tmp_path)


async def test_a_pinned_caller_stays_on_its_file_until_it_is_done(tmp_path: Path) -> None:
    async with projection_at(tmp_path / "old.db") as old, projection_at(tmp_path / "new.db") as new:
        live = LiveProjection(old)
        entered, release = asyncio.Event(), asyncio.Event()

        async def request() -> list[Path]:
            async with live.pinned():
                seen = [live.path]
                entered.set()
                await release.wait()
                seen.append(live.path)
                return seen

        pinned = asyncio.create_task(request())
        async with asyncio.timeout(DEADLINE):
            await entered.wait()
        assert live.swap(new) is old
        # New callers see the new file at once; the old one is still in use.
        assert live.path == new.path
        drained = asyncio.create_task(live.drained(old))
        await asyncio.sleep(0)
        assert not drained.done()
        release.set()
        async with asyncio.timeout(DEADLINE):
            assert await pinned == [old.path, old.path]
            await drained
        async with asyncio.timeout(DEADLINE):
            await live.drained(new)


def test_the_rebuild_command_switches_a_running_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    serving = serve(data)
    try:
        (curl,) = [line for line in serving.lines if line.strip().startswith("curl ")]
        token = curl.split("Bearer ", 1)[1].split('"', 1)[0]
        headers = {"Authorization": f"Bearer {token}"}
        jpeg = images.jpeg(tmp_path / "a.jpg", 64, 48, seed=1).read_bytes()
        posted = requests.post(f"{serving.url}/api/v1/media", files={"file": ("a.jpg", jpeg, "image/jpeg")},
                               headers=headers, timeout=30)
        assert posted.status_code == 200
        projections = data / "projection"
        (before,) = projections.glob("projection-*.db")

        printed = run("rebuild", data=data).stdout.splitlines()
        assert "events/s" in printed[0]
        rebuilt = Path(printed[0].rsplit(" into ", 1)[1])
        deadline = time.monotonic() + DEADLINE
        while sorted(projections.glob("projection-*.db")) != [rebuilt] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(projections.glob("projection-*.db")) == [rebuilt]
        assert not before.exists()
        assert run("digest", data=data).stdout.split()[1] == printed[-1]
        again = requests.get(f"{serving.url}/api/v1/media/{posted.json()['id']}", headers=headers, timeout=30)
        assert again.status_code == 200 and again.json() == posted.json()
    finally:
        assert serving.stop() == 0


async def test_a_caller_ending_on_the_old_file_waits_until_the_new_one_is_as_far(tmp_path: Path) -> None:
    async with projection_at(tmp_path / "old.db") as old, projection_at(tmp_path / "new.db") as new:
        await old.apply([Record(1, uploaded("1"))])
        await new.apply([Record(1, uploaded("1"))])
        live = LiveProjection(old)
        swapped_in, answered = asyncio.Event(), asyncio.Event()

        async def request() -> tuple[sqlite3.Row | None, int]:
            async with live.pinned():
                await swapped_in.wait()
                # It writes and reads its own write on the old file after the swap.
                await old.apply([Record(2, uploaded("2"))])
                row = await live.one("SELECT media_id FROM media WHERE media_id = '2'")
                answered.set()
            return row, new.applied

        pinned = asyncio.create_task(request())
        await asyncio.sleep(0)
        live.swap(new)
        swapped_in.set()
        async with asyncio.timeout(DEADLINE):
            await answered.wait()
        for _ in range(5):
            await asyncio.sleep(0)
        assert not pinned.done()
        await new.apply([Record(2, uploaded("2"))])
        async with asyncio.timeout(DEADLINE):
            row, seen_by_then = await pinned
        # It let go only once the next caller, on the new file, would find its write.
        assert row is not None and row["media_id"] == "2"
        assert seen_by_then == 2


async def test_a_projection_of_another_schema_is_folded_afresh_at_start(nats_url: str, data_dir: Path) -> None:
    config = make_config(nats_url, data_dir / "schema")
    running = await start(config, processor=False)
    try:
        await running.token("alice")
        old = running.server.projection.current.path
    finally:
        await running.server.stop()
    with sqlite3.connect(old) as conn:
        conn.execute(f"UPDATE {CHECKPOINT} SET schema = 'an older read model' WHERE id = 1")
    conn.close()

    running = await start(config, processor=False)
    try:
        live = running.server.projection
        assert live.current.path != old and not old.exists()
        assert (config.projection_dir / "CURRENT").read_text().strip() == live.current.path.name
        assert await live.digest() == await fresh_digest(running.events, data_dir)
    finally:
        await running.server.stop()
