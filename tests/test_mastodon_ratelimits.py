"""Mastodon's rate limits: per-token request windows and per-user upload windows, shared across replicas."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import time
from pathlib import Path

import aiohttp
import msgspec
import pytest
from mastodon import Mastodon
from mastodon.errors import MastodonRatelimitError

from core.events import TokenIssued
from core.ids import new_token, token_hash
from core.log import LogUnavailable
from gateways.kit.keyvalue import Bucket
from gateways.kit.memkv import MemoryBuckets
from gateways.kit.ratelimit import Counter, LocalCounts, Window
from tests import images
from tests.outage import KillableBroker
from tests.servers import Running, Servers, bearer
from tests.test_mastodon_api import upload
from tests.test_reconnect import _is, eventually, readiness

CREDENTIALS = "/api/v1/accounts/verify_credentials"
TOO_MANY = {"error": "Too many requests"}
# Windows aligned to multiples of this are not crossed while a test runs (the next edge is in 2033).
LONG = 10**9


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class AwayBuckets:
    """A broker that cannot be reached."""

    async def open(self, name: str, *, ttl: float | None) -> Bucket:
        raise LogUnavailable("away")


async def test_counter_counts_per_subject_and_window() -> None:
    clock = Clock(1000.0)
    counter = Counter(MemoryBuckets(), clock=clock)
    window = Window("api", 2, 300)
    counts = [await counter.hit(window, "a") for _ in range(3)]
    assert [c.used for c in counts] == [1, 2, 3]
    assert [c.over for c in counts] == [False, False, True]
    assert [c.remaining for c in counts] == [1, 0, 0]
    # Windows start at multiples of the period, so every replica agrees on them.
    assert counts[0].reset == 1200.0
    assert (await counter.hit(window, "b")).used == 1
    clock.now = 1200.0
    fresh = await counter.hit(window, "a")
    assert fresh.used == 1 and fresh.reset == 1500.0


async def test_counter_racing_itself_loses_no_hit() -> None:
    counter = Counter(MemoryBuckets())
    window = Window("api", 1000, 300)
    await asyncio.gather(*(counter.hit(window, "a") for _ in range(20)))
    assert (await counter.hit(window, "a")).used == 21


async def test_counter_counts_locally_while_the_broker_is_away() -> None:
    clock = Clock(1000.0)
    counter = Counter(AwayBuckets(), clock=clock)
    window = Window("api", 1, 300)
    assert not (await counter.hit(window, "a")).over
    assert (await counter.hit(window, "a")).over
    clock.now = 1300.0
    assert not (await counter.hit(window, "a")).over


def reset_of(response: aiohttp.ClientResponse) -> dt.datetime:
    value = response.headers["X-RateLimit-Reset"]
    assert value.endswith("Z")
    return dt.datetime.fromisoformat(value)


@pytest.mark.server(api_rate_limit=3, api_rate_period=LONG)
async def test_requests_over_the_limit_get_429_with_headers(server: Running, http: aiohttp.ClientSession) -> None:
    token = await server.token("alice")
    remaining = []
    for _ in range(3):
        async with http.get(f"{server.url}{CREDENTIALS}", headers=bearer(token)) as response:
            assert response.status == 200
            assert response.headers["X-RateLimit-Limit"] == "3"
            remaining.append(response.headers["X-RateLimit-Remaining"])
            reset = reset_of(response)
            assert reset.timestamp() % LONG == 0
            assert 0 < reset.timestamp() - time.time() <= LONG
    assert remaining == ["2", "1", "0"]
    async with http.get(f"{server.url}{CREDENTIALS}", headers=bearer(token)) as response:
        assert response.status == 429
        assert await response.json() == TOO_MANY
        assert response.headers["X-RateLimit-Remaining"] == "0"
        assert reset_of(response) == reset
    # Another token has a window of its own; requests without a token are not counted here.
    other = await server.token("bob")
    async with http.get(f"{server.url}{CREDENTIALS}", headers=bearer(other)) as response:
        assert response.status == 200
        assert response.headers["X-RateLimit-Remaining"] == "2"
    for _ in range(4):
        async with http.get(f"{server.url}/api/v1/instance") as response:
            assert response.status == 200
            assert "X-RateLimit-Limit" not in response.headers


@pytest.mark.server(api_rate_limit=5, api_rate_period=LONG)
async def test_refusals_carry_the_headers_and_count(server: Running, http: aiohttp.ClientSession) -> None:
    token = await server.token("alice")
    async with http.get(f"{server.url}/api/v1/media/nope", headers=bearer(token)) as response:
        assert response.status == 404
        assert response.headers["X-RateLimit-Remaining"] == "4"
    # A made-up token is refused without a window of its own, and takes nothing from the real one.
    async with http.get(f"{server.url}{CREDENTIALS}", headers=bearer("not-a-token")) as response:
        assert response.status == 401
        assert "X-RateLimit-Remaining" not in response.headers
    async with http.get(f"{server.url}{CREDENTIALS}", headers=bearer(token)) as response:
        assert response.status == 200
        assert response.headers["X-RateLimit-Remaining"] == "3"


@pytest.mark.server(api_rate_limit=0)
async def test_a_limit_of_zero_turns_counting_off(server: Running, http: aiohttp.ClientSession) -> None:
    token = await server.token("alice")
    async with http.get(f"{server.url}{CREDENTIALS}", headers=bearer(token)) as response:
        assert response.status == 200
        assert "X-RateLimit-Limit" not in response.headers


async def test_two_replicas_share_one_count(make_server: Servers, http: aiohttp.ClientSession) -> None:
    first = await make_server(api_rate_limit=4, api_rate_period=LONG, processor=False)
    beside = msgspec.structs.replace(first.config, data_dir=first.config.data_dir.with_name("replica"),
                                     blobs_dir=first.config.blobs, port=0, public_url="")
    second = await make_server.start(beside, processor=False)
    token = await first.token("alice")
    seen = []
    for replica in (first, second, first, second):
        async with http.get(f"{replica.url}{CREDENTIALS}", headers=bearer(token)) as response:
            assert response.status == 200
            seen.append(response.headers["X-RateLimit-Remaining"])
    assert seen == ["3", "2", "1", "0"]
    for replica in (first, second):
        async with http.get(f"{replica.url}{CREDENTIALS}", headers=bearer(token)) as response:
            assert response.status == 429
            assert await response.json() == TOO_MANY


@pytest.mark.server(api_rate_limit=300, media_rate_limit=2, media_rate_period=LONG, v2_sync_wait=0.0)
async def test_uploads_have_a_window_per_user(server: Running, http: aiohttp.ClientSession, tmp_path: Path) -> None:
    data = images.png(tmp_path / "x.png", 40, 30).read_bytes()
    first, second = await server.token("alice"), await server.token("alice")
    for token in (first, second):
        status, _ = await upload(http, server, token, data)
        assert status in (200, 202)
    # The user's third upload is over, whichever token it comes with.
    async with http.post(f"{server.url}/api/v2/media", data=data, headers=bearer(first)) as response:
        assert response.status == 429
        assert await response.json() == TOO_MANY
        assert response.headers["X-RateLimit-Limit"] == "2"
        assert response.headers["X-RateLimit-Remaining"] == "0"
        assert reset_of(response).timestamp() % LONG == 0
    # Other requests of the same user still pass, counted in the request window.
    async with http.get(f"{server.url}{CREDENTIALS}", headers=bearer(first)) as response:
        assert response.status == 200
        assert response.headers["X-RateLimit-Limit"] == "300"
    status, _ = await upload(http, server, await server.token("bob"), data)
    assert status in (200, 202)


async def issue(server: Running, user: str, *, cli: bool, scopes: tuple[str, ...] = ("read", "write")) -> str:
    """A token as another issuer than `mediaplex token create` would make it, with any scopes."""
    await server.token(user)
    token = new_token()
    hashed = token_hash(token)
    token_id = hashlib.sha256(hashed.encode()).hexdigest()[:16]
    await server.events.append(TokenIssued(at=time.time(), token_id=token_id, user_id=user, token_hash=hashed,
                                           scopes=scopes, cli=cli), msg_id=f"token.{token_id}")
    return token


@pytest.mark.server(api_rate_limit=1, api_rate_period=LONG, rate_limit_cli_tokens=False)
async def test_cli_tokens_are_exempt_only_when_configured(server: Running, http: aiohttp.ClientSession) -> None:
    cli = await server.token("alice")
    other = await issue(server, "alice", cli=False)
    for _ in range(3):
        async with http.get(f"{server.url}{CREDENTIALS}", headers=bearer(cli)) as response:
            assert response.status == 200
            assert "X-RateLimit-Limit" not in response.headers
    statuses = []
    for _ in range(2):
        async with http.get(f"{server.url}{CREDENTIALS}", headers=bearer(other)) as response:
            statuses.append(response.status)
    assert statuses == [200, 429]


@pytest.mark.server(api_rate_limit=1, api_rate_period=LONG)
async def test_cli_tokens_are_limited_by_default(server: Running, http: aiohttp.ClientSession) -> None:
    cli = await server.token("alice")
    statuses = []
    for _ in range(2):
        async with http.get(f"{server.url}{CREDENTIALS}", headers=bearer(cli)) as response:
            statuses.append(response.status)
    assert statuses == [200, 429]


@pytest.mark.server(api_rate_limit=2, api_rate_period=LONG)
async def test_mastodon_py_sees_the_429_as_its_rate_limit_error(server: Running) -> None:
    token = await server.token("alice")

    def use_the_client() -> tuple[int | None, int | None, float | None]:
        api = Mastodon(access_token=token, api_base_url=server.url, request_timeout=30,
                       ratelimit_method="throw", version_check_mode="none")
        api.account_verify_credentials()
        api.account_verify_credentials()
        seen = api.ratelimit_limit, api.ratelimit_remaining, api.ratelimit_reset
        with pytest.raises(MastodonRatelimitError):
            api.account_verify_credentials()
        return seen

    limit, remaining, reset = await asyncio.to_thread(use_the_client)
    assert limit == 2 and remaining == 0
    assert reset is not None and reset > time.time()


def test_switches_are_spelled_out_on_the_command_line() -> None:
    import argparse

    from gateways.mastodon.gateway import GATEWAY
    from gateways.mastodon.settings import MastodonSettings
    from mediaplex.cli import settings_flags

    parser = argparse.ArgumentParser(exit_on_error=False)
    settings_flags(parser, {"MEDIAPLEX_API_RATE_LIMIT": "7"}, GATEWAY)
    args = parser.parse_args(["--rate-limit-cli-tokens", "no", "--media-rate-period", "60"])
    assert (args.rate_limit_cli_tokens, args.api_rate_limit, args.media_rate_period) == (False, 7, 60)
    assert parser.parse_args([]).rate_limit_cli_tokens is MastodonSettings().rate_limit_cli_tokens is True
    with pytest.raises(argparse.ArgumentError):
        parser.parse_args(["--rate-limit-cli-tokens", "maybe"])


async def test_counting_goes_on_in_the_replica_while_the_broker_is_away(
    broker: KillableBroker, make_server: Servers, http: aiohttp.ClientSession
) -> None:
    server = await make_server(nats_url=broker.url, api_rate_limit=3, api_rate_period=LONG, processor=False)
    token = await server.token("alice")
    assert await server.projection.wait_for(await server.events.last_seq(), 10.0)

    async def remaining() -> tuple[int, str | None]:
        async with http.get(f"{server.url}/api/v1/preferences", headers=bearer(token)) as response:
            return response.status, response.headers.get("X-RateLimit-Remaining")

    assert await remaining() == (200, "2")
    await broker.kill()
    await eventually(lambda: _is(readiness(http, server), 503), "not ready while the broker is down")
    # The local count starts afresh: while the broker is away each replica bounds a token on its own.
    assert [await remaining() for _ in range(4)] == [(200, "2"), (200, "1"), (200, "0"), (429, "0")]
    await broker.start()
    await eventually(lambda: _is(readiness(http, server), 200), "ready again")
    # Back on the shared count, which remembers what it had.
    assert await remaining() == (200, "1")


def test_local_counts_forget_ended_windows() -> None:
    local = LocalCounts()
    window = Window("api", 5, 300)
    assert [local.hit(window, "a", 0), local.hit(window, "b", 0), local.hit(window, "a", 0)] == [1, 1, 2]
    assert local.hit(window, "a", 300) == 1
    # A late hit for an ended window no longer finds its count.
    assert local.hit(window, "b", 0) == 1
    assert local.hit(Window("media", 5, 300), "a", 0) == 1


@pytest.mark.parametrize(("field", "value"), [("api_rate_period", 0), ("media_rate_period", -5),
                                              ("api_rate_limit", -1), ("media_rate_limit", -1)])
def test_windows_of_no_length_and_negative_limits_are_refused_at_start(field: str, value: int) -> None:
    from gateways.mastodon.settings import MastodonSettings

    with pytest.raises(ValueError, match=field):
        MastodonSettings(**{field: value})
