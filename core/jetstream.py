"""The event log on NATS JetStream: one stream, a subject per aggregate, deduplicated appends."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import TypeVar

import msgspec
import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js import errors as js_errors

from core import wireread
from core.events import AnyEvent, Codec
from core.log import Conflict, LogUnavailable, Record
from core.metrics import REQUEST_HEADER, Metrics, request_id

log = logging.getLogger(__name__)
T = TypeVar("T")

# What JetStream answers, or fails to, while a clustered stream or the cluster's metadata has no leader:
# for a few seconds after a node comes back nobody answers.
LEADERLESS = (nats.errors.TimeoutError, nats.errors.NoRespondersError, js_errors.NoStreamResponseError,
              js_errors.ServiceUnavailableError)
# How long a role that is starting waits out a cluster without a leader before it gives up.
START_PATIENCE = 30.0


async def patiently(step: Callable[[], Awaitable[T]], what: str, within: float = START_PATIENCE) -> T:
    """`step`, tried again while the cluster has no leader to answer it, for up to `within` seconds: a role
    started just after a node came back must come up, not exit."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    pause = 0.2
    while True:
        try:
            return await step()
        except LEADERLESS as exc:
            if loop.time() + pause > end:
                raise
            log.warning("%s: no answer from the cluster (%s); trying again", what, str(exc) or type(exc).__name__)
            await asyncio.sleep(pause)
            pause = min(2 * pause, 2.0)

WRONG_LAST_SEQUENCE = 10071
# An append retries within its timeout, this often at least, pausing this long between tries.
APPEND_TRIES = 4
APPEND_PAUSE = 0.25
# Records per list when `read` is served from `read_batches`.
READ_BATCH = 1000
# Bounded reads at least this long go over the wire reader: connecting costs a few milliseconds,
# which only a backlog pays back.
WIRE_READ_MIN = 2000
# How often a reader waiting for deliveries checks that the connection is still open, in seconds.
CLOSED_POLL = 1.0
# Seconds between attempts to subscribe while the JetStream API does not answer.
RESUBSCRIBE_DELAY = 0.5
# Seconds an unsubscribe may take; a broken connection must not hold up the reader that replaces it.
UNSUBSCRIBE_TIMEOUT = 2.0


async def publish_through_elections(js: JetStreamContext, subject: str, payload: bytes, *, stream: str,
                                    headers: dict[str, str], within: float,
                                    connected: Callable[[], bool] = lambda: True) -> js_api.PubAck:
    """Publish to `stream`, tried again for up to `within` seconds while it has no leader to answer; raises
    LogUnavailable after that, and passes the stream's refusals (BadRequestError) through.

    A Nats-Msg-Id in `headers` makes the retry of a try that landed unanswered return that try's ack. An
    expected sequence is checked before the id, though, so such a retry is refused as out of sequence:
    then the subject's last message is looked at, and is the landed try if it carries the same id."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    retried = False
    while True:
        remaining = deadline - loop.time()
        if not connected():
            # While reconnecting, nats-py would buffer the message and send it once the connection is
            # back: a publish its caller was told had failed would land after all. So wait for the
            # connection (a cluster client fails over within a second) instead of publishing.
            if remaining <= APPEND_PAUSE:
                raise LogUnavailable("not connected")
            await asyncio.sleep(APPEND_PAUSE)
            continue
        try:
            each = min(remaining, max(within / APPEND_TRIES, APPEND_PAUSE))
            return await js.publish(subject, payload, timeout=each, stream=stream, headers=headers)
        except js_errors.BadRequestError as exc:
            if retried and exc.err_code == WRONG_LAST_SEQUENCE:
                try:
                    landed = await _landed(js, stream, subject, headers.get("Nats-Msg-Id"))
                except LEADERLESS as again:
                    raise LogUnavailable(f"no answer on whether a retried publish landed: {again}") from exc
                if landed is not None:
                    return landed
            raise
        except LEADERLESS as exc:
            # While a clustered stream elects a new leader nobody answers for a few seconds.
            if deadline - loop.time() <= APPEND_PAUSE:
                raise LogUnavailable(str(exc) or type(exc).__name__) from exc
            retried = True
            await asyncio.sleep(APPEND_PAUSE)


async def _landed(js: JetStreamContext, stream: str, subject: str, msg_id: str | None) -> js_api.PubAck | None:
    """The ack of the message `msg_id` if it is the last on `subject`."""
    if msg_id is None:
        return None
    try:
        last = await js.get_last_msg(stream, subject)
    except js_errors.NotFoundError:
        return None
    if (last.headers or {}).get("Nats-Msg-Id") != msg_id:
        return None
    return js_api.PubAck(stream=stream, seq=last.seq or 0, duplicate=True)


async def stream_subjects(js: JetStreamContext, stream: str, matching: str) -> dict[str, int]:
    """Every subject of `stream` that `matching` matches, with how many messages it holds.

    The server answers at most 100,000 subjects a reply (sorted, with the total), so this asks page after
    page: nats-py's stream_info asks for the first page only.
    """
    subjects: dict[str, int] = {}
    while True:
        request = msgspec.json.encode({"subjects_filter": matching, "offset": len(subjects)})
        reply = await js._api_request(f"{js._prefix}.STREAM.INFO.{stream}", request, timeout=js._timeout)
        page = (reply.get("state") or {}).get("subjects") or {}
        subjects.update(page)
        if not page or len(subjects) >= int(reply.get("total") or 0):
            return subjects


class StreamSettings(msgspec.Struct, frozen=True):
    name: str = "MEDIAPLEX"
    # Events name subjects under "mx"; another prefix lets several logs share one NATS account.
    prefix: str = "mx"
    replicas: int = 1
    duplicate_window: float = 120.0

    @property
    def subjects(self) -> str:
        return f"{self.prefix}.>"


async def connect(urls: Sequence[str], *, name: str) -> Client:
    """A client that keeps reconnecting forever: a gateway outlives a broker restart."""
    errors = 0

    async def on_error(exc: Exception) -> None:
        nonlocal errors
        errors += 1
        # Reconnect attempts report every refused dial; one line per burst is enough.
        if errors == 1 or errors % 50 == 0:
            log.warning("nats: %s", exc)

    async def on_reconnected() -> None:
        nonlocal errors
        errors = 0
        log.info("nats: reconnected")

    return await nats.connect(
        servers=list(urls),
        name=name,
        allow_reconnect=True,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        # A dead peer that sends no EOF (a partition, a host gone) shows as missed pings, within
        # 30 s rather than the client default of several minutes.
        ping_interval=10,
        max_outstanding_pings=2,
        connect_timeout=5,
        drain_timeout=5,
        error_cb=on_error,
        reconnected_cb=on_reconnected,
    )


class JetStreamLog:
    """The EventLog port over one JetStream stream. The owner of the NATS client closes it."""

    def __init__(
        self, client: Client, settings: StreamSettings, *, timeout: float = 10.0, heartbeat: float = 5.0
    ) -> None:
        self._client = client
        self._settings = settings
        self._timeout = timeout
        # The idle heartbeat readers ask the server for; nats-py re-creates a reader's consumer
        # after missing two of them.
        self._heartbeat = heartbeat
        self._codec = Codec()
        self.jetstream: JetStreamContext = client.jetstream(timeout=timeout)
        # Where append latency and uploads are counted; set by the composition root.
        self.metrics: Metrics | None = None

    @property
    def stream(self) -> str:
        return self._settings.name

    @property
    def client(self) -> Client:
        """The NATS client under the log, for what else lives on the same broker (key-value buckets)."""
        return self._client

    @property
    def connected(self) -> bool:
        """Whether the client is connected now, not reconnecting or closed."""
        return bool(self._client.is_connected)

    @property
    def reconnects(self) -> int:
        """How many times the client has reconnected; a change means subscriptions may be gone."""
        return int(self._client.stats["reconnects"])

    def subject(self, subject: str) -> str:
        """Where an event subject (or filter) written as `mx.…` lives in this stream."""
        head, _, rest = subject.partition(".")
        return f"{self._settings.prefix}.{rest}" if head == "mx" else subject

    async def ensure_stream(self) -> None:
        config = js_api.StreamConfig(
            name=self._settings.name,
            subjects=[self._settings.subjects],
            storage=js_api.StorageType.FILE,
            retention=js_api.RetentionPolicy.LIMITS,
            discard=js_api.DiscardPolicy.NEW,
            deny_delete=True,
            deny_purge=True,
            allow_rollup_hdrs=False,
            num_replicas=self._settings.replicas,
            duplicate_window=self._settings.duplicate_window,
        )
        try:
            await self.jetstream.stream_info(self._settings.name)
        except js_errors.NotFoundError:
            await self.jetstream.add_stream(config)

    async def append(
        self,
        event: AnyEvent,
        *,
        msg_id: str,
        expected_last: int | None = None,
        expected_on: str | None = None,
    ) -> int:
        subject = self.subject(event.subject())
        headers = {"Nats-Msg-Id": msg_id}
        # The request (or job) that causes this event, so its consumers log under the same id.
        current = request_id.get()
        if current:
            headers[REQUEST_HEADER] = current
        if expected_last is not None:
            headers["Nats-Expected-Last-Subject-Sequence"] = str(expected_last)
            if expected_on and self.subject(expected_on) != subject:
                headers["Nats-Expected-Last-Subject-Sequence-Subject"] = self.subject(expected_on)
        payload = self._codec.encode(event)
        loop = asyncio.get_running_loop()
        began = loop.time()
        try:
            ack = await publish_through_elections(self.jetstream, subject, payload, stream=self._settings.name,
                                                  headers=headers, within=self._timeout,
                                                  connected=lambda: self._client.is_connected)
        except js_errors.BadRequestError as exc:
            if exc.err_code == WRONG_LAST_SEQUENCE:
                raise Conflict(exc.description or "wrong last sequence") from exc
            raise
        if self.metrics is not None:
            self.metrics.appended(event, loop.time() - began)
        log.info("append request_id=%s event=%s media=%s seq=%d", current or "-", type(event).__name__,
                 getattr(event, "media_id", "-"), ack.seq)
        return ack.seq

    async def last_seq(self) -> int:
        info = await self.jetstream.stream_info(self._settings.name)
        return info.state.last_seq

    async def last_on(self, subject: str) -> int:
        try:
            msg = await self.jetstream.get_last_msg(self._settings.name, self.subject(subject))
        except js_errors.NotFoundError:
            return 0
        return msg.seq or 0

    async def read(self, start: int, *, follow: bool) -> AsyncGenerator[Record, None]:
        batches = self.read_batches(start, follow=follow, size=READ_BATCH)
        try:
            async for batch in batches:
                for record in batch:
                    yield record
        finally:
            await batches.aclose()

    async def read_batches(self, start: int, *, follow: bool, size: int) -> AsyncGenerator[list[Record], None]:
        end = None if follow else await self._guarded(self.last_seq())
        start = max(start, 1)
        if end is not None and start > end:
            return
        if end is not None and end - start + 1 >= WIRE_READ_MIN:
            async for batch in self._wire_batches(start, end, size):
                start = batch[-1].seq + 1
                yield batch
            if start > end:
                return
        arrivals = _Arrivals(start, end, size)
        sub = await self._follow(arrivals)
        try:
            while True:
                try:
                    seqs, payloads = await arrivals.take(self._client)
                except Resubscribe as why:
                    # nats-py re-creates an ordered consumer only after missing two idle heartbeats
                    # (10 s), and not at all when that request fails; a broker restart loses the
                    # ephemeral consumer outright. Starting a new one after the last sequence
                    # handed out is cheaper than waiting to find out which case this is.
                    log.info("log reader: %s; resubscribing from %d", why, arrivals.last + 1)
                    await _unsubscribe(sub)
                    sub = await self._follow(arrivals)
                    continue
                yield self._records(seqs, payloads)
                if end is not None and seqs[-1] >= end:
                    return
        finally:
            await _unsubscribe(sub)

    async def _wire_batches(self, start: int, end: int, size: int) -> AsyncGenerator[list[Record], None]:
        """A long bounded read over the wire reader; whatever it cannot do, the caller reads on with nats-py.

        The wire hands over what one socket read held, a few hundred records; lists of `size` let a
        projection commit once per few thousand.
        """
        url = self._client.connected_url
        if url is None:
            return
        seqs: list[int] = []
        payloads: list[bytes] = []
        try:
            async for got_seqs, got_payloads in wireread.read_range(url.geturl(), self._settings.name, start, end):
                seqs.extend(got_seqs)
                payloads.extend(got_payloads)
                if len(seqs) >= size:
                    yield self._records(seqs, payloads)
                    seqs, payloads = [], []
        except wireread.Unsupported as exc:
            log.info("log reader: reading through the client (%s)", exc)
        except wireread.WireError as exc:
            log.warning("log reader: the bulk read broke off (%s); reading on through the client", exc)
        if seqs:
            yield self._records(seqs, payloads)

    def _records(self, seqs: list[int], payloads: list[bytes]) -> list[Record]:
        return list(map(Record, seqs, self._codec.decode_many(payloads)))

    async def _follow(self, arrivals: _Arrivals) -> JetStreamContext.PushSubscription:
        """An ordered consumer delivering to `arrivals` from the sequence after its last on.

        Retried until it exists: right after a reconnect the JetStream API may not answer yet.
        """
        while True:
            arrivals.mark(self._client)
            try:
                # An ordered consumer re-creates itself after gaps, so the sequence it delivers
                # is gap-free without any bookkeeping here. Its messages go to a callback rather
                # than through `sub.messages`, whose task per message costs more than the rest of a read.
                return await self._guarded(self.jetstream.subscribe(
                    self._settings.subjects,
                    stream=self._settings.name,
                    ordered_consumer=True,
                    idle_heartbeat=self._heartbeat,
                    cb=arrivals.deliver,
                    config=js_api.ConsumerConfig(
                        deliver_policy=js_api.DeliverPolicy.BY_START_SEQUENCE,
                        opt_start_seq=arrivals.last + 1,
                    ),
                    pending_msgs_limit=1 << 20,
                    pending_bytes_limit=1 << 30,
                ))
            except (nats.errors.Error, js_errors.Error, TimeoutError) as exc:
                if self._client.is_closed:
                    raise LogUnavailable("connection closed") from exc
                log.info("log reader: subscribing failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(RESUBSCRIBE_DELAY)

    async def _guarded(self, request: Awaitable[T]) -> T:
        """A request to the JetStream API that gives up after the log's timeout, whatever the client does."""
        async with asyncio.timeout(self._timeout + 1):
            return await request


async def _unsubscribe(sub: JetStreamContext.PushSubscription) -> None:
    try:
        async with asyncio.timeout(UNSUBSCRIBE_TIMEOUT):
            await asyncio.shield(sub.unsubscribe())
    except Exception:  # noqa: BLE001 - a closed or broken connection has nothing left to unsubscribe
        pass


class Resubscribe(Exception):
    """The subscription a reader waits on cannot be trusted to deliver any more."""


class _Arrivals:
    """Deliveries the reader has not taken yet, as parallel lists of sequences and payloads."""

    def __init__(self, start: int, end: int | None, size: int) -> None:
        self._end = end
        self._size = max(size, 1)
        self._last = start - 1
        self._seqs: list[int] = []
        self._payloads: list[bytes] = []
        self._ready = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._reconnects = 0

    @property
    def last(self) -> int:
        """The last sequence delivered; a new subscription starts after it."""
        return self._last

    def mark(self, client: Client) -> None:
        """Remember the client's reconnect count as a new subscription starts."""
        self._reconnects = client.stats["reconnects"]

    def _full(self) -> bool:
        """Whether the reader should take now: a full list, the last of a bounded read, anything when following."""
        seqs = self._seqs
        if not seqs:
            return False
        return len(seqs) >= self._size or self._end is None or seqs[-1] >= self._end

    async def deliver(self, msg: Msg) -> None:
        seq = wireread.stream_seq(msg.reply)
        end = self._end
        # A bounded read keeps delivering what is appended after its end; none of it belongs here.
        if seq <= self._last or (end is not None and seq > end):
            return
        self._last = seq
        seqs = self._seqs
        seqs.append(seq)
        self._payloads.append(msg.data)
        # The same test as _full, spelled out: this runs once per message.
        if len(seqs) >= self._size or end is None or seq >= end:
            self._ready.set()
            if len(seqs) >= 2 * self._size:
                # Holding the callback back holds back flow control: the server pauses instead of
                # the whole stream piling up in memory ahead of a slower applier.
                self._room.clear()
                await self._room.wait()

    async def take(self, client: Client) -> tuple[list[int], list[bytes]]:
        task = asyncio.current_task()
        while not self._ready.is_set():
            # On Python 3.11, asyncio.wait_for loses a cancellation that races the result it waits
            # for; nats-py's requests (creating the consumer, reading the stream's head) use it. A
            # reader whose cancellation was lost on the way here would wait for good, so it checks
            # for one still outstanding, and waits with asyncio.wait, which cannot lose one.
            if task is not None and task.cancelling():
                raise asyncio.CancelledError
            ready = asyncio.ensure_future(self._ready.wait())
            try:
                await asyncio.wait((ready,), timeout=CLOSED_POLL)
            finally:
                ready.cancel()
            if self._ready.is_set():
                break
            # A closed client stops calling back without a word; only the reader can tell.
            if client.is_closed:
                raise LogUnavailable("connection closed")
            if client.stats["reconnects"] != self._reconnects and client.is_connected:
                raise Resubscribe("reconnected")
        size = self._size
        seqs, payloads = self._seqs[:size], self._payloads[:size]
        del self._seqs[:size], self._payloads[:size]
        if not self._full():
            self._ready.clear()
        self._room.set()
        return seqs, payloads
