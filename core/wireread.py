"""A bounded read of a stream over the NATS wire protocol itself, for rebuilds.

nats-py spends tens of microseconds of Python on every delivery (a Msg object, a callback, the
ordered consumer's sequence tracking), which caps a rebuild at the rate one core can parse. A
bounded read needs none of that: a pull consumer without acks hands out a batch per request, and
the frames are split here with a few bytes operations each. Anything this reader does not speak
(TLS, credentials files, a server that refuses the consumer) raises `Unsupported` before the first
batch, so the caller can read through nats-py instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import urllib.parse
from collections.abc import AsyncGenerator, AsyncIterator

# Messages per pull request; two are kept in flight so the server never waits on a round trip.
PULL = 4096
READ_CHUNK = 1 << 20
# Seconds the ephemeral consumer outlives a reader that vanished without deleting it.
INACTIVE = 30.0
TIMEOUT = 10.0


class Unsupported(Exception):
    """This server or connection needs something only a full client does."""


class WireError(Exception):
    """The connection failed or the server answered with an error mid-read."""


class Wire:
    """One connection: frames in, commands out. Only what a bounded pull needs."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._buf = bytearray()
        self._pos = 0

    @classmethod
    async def open(cls, url: str, *, name: str) -> Wire:
        parts = urllib.parse.urlsplit(url if "://" in url else f"nats://{url}")
        if parts.scheme not in ("nats", ""):
            raise Unsupported(f"scheme {parts.scheme!r}")
        try:
            async with asyncio.timeout(TIMEOUT):
                reader, writer = await asyncio.open_connection(parts.hostname or "127.0.0.1", parts.port or 4222)
        except (OSError, TimeoutError) as exc:
            raise Unsupported(f"cannot connect to {parts.hostname}:{parts.port}: {exc}") from exc
        wire = cls(reader, writer)
        try:
            await wire._handshake(parts, name)
        except BaseException:
            await wire.close()
            raise
        return wire

    async def _handshake(self, parts: urllib.parse.SplitResult, name: str) -> None:
        async with asyncio.timeout(TIMEOUT):
            line = await self._reader.readline()
        if not line.startswith(b"INFO "):
            raise Unsupported("no INFO from the server")
        info = json.loads(line[5:])
        if info.get("tls_required") or info.get("nkey") or info.get("nonce"):
            raise Unsupported("the server wants TLS or a signed nonce")
        connect: dict[str, object] = {"verbose": False, "pedantic": False, "headers": True, "no_responders": True,
                                      "protocol": 1, "name": name, "lang": "python-wire", "version": "1"}
        # Credentials go as written in the URL, not percent-decoded, because that is what nats-py
        # sends: one URL must log in the same way over both paths.
        if parts.username and parts.password is not None:
            connect["user"] = parts.username
            connect["pass"] = parts.password
        elif parts.username:
            connect["auth_token"] = parts.username
        self._writer.write(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
        async with asyncio.timeout(TIMEOUT):
            while True:
                line = await self._reader.readline()
                if line.startswith(b"PONG"):
                    return
                if line.startswith(b"-ERR"):
                    raise Unsupported(line.decode(errors="replace").strip())
                if not line:
                    raise Unsupported("the server closed the connection")

    def send(self, command: bytes) -> None:
        self._writer.write(command)

    def publish(self, subject: str, reply: str, payload: bytes) -> None:
        self._writer.write(f"PUB {subject} {reply} {len(payload)}\r\n".encode() + payload + b"\r\n")

    async def frames(self) -> AsyncGenerator[list[tuple[bytes, bytes, bytes | None]], None]:
        """Lists of (subject, reply, payload) as they arrive; payload None for a status-only message,
        whose header line is given as its reply."""
        reader = self._reader
        while True:
            try:
                chunk = await reader.read(READ_CHUNK)
            except OSError as exc:
                raise WireError(str(exc)) from exc
            if not chunk:
                raise WireError("the server closed the connection")
            if self._pos:
                del self._buf[:self._pos]
                self._pos = 0
            self._buf += chunk
            got = self._parse()
            if got:
                yield got

    def _parse(self) -> list[tuple[bytes, bytes, bytes | None]]:
        buf = self._buf
        pos = self._pos
        end = len(buf)
        out: list[tuple[bytes, bytes, bytes | None]] = []
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                break
            if buf.startswith(b"MSG ", pos):
                fields = bytes(buf[pos + 4:eol]).split(b" ")
                size = int(fields[-1])
                stop = eol + 2 + size
                if stop + 2 > end:
                    break
                reply = fields[2] if len(fields) == 4 else b""
                out.append((fields[0], reply, bytes(buf[eol + 2:stop])))
                pos = stop + 2
            elif buf.startswith(b"HMSG ", pos):
                fields = bytes(buf[pos + 5:eol]).split(b" ")
                header_size, total = int(fields[-2]), int(fields[-1])
                stop = eol + 2 + total
                if stop + 2 > end:
                    break
                headers = bytes(buf[eol + 2:eol + 2 + header_size])
                status = headers.split(b"\r\n", 1)[0]
                if header_size == total:
                    out.append((fields[0], status, None))
                else:
                    # A message that carries headers of its own; the log's events never do.
                    reply = fields[2] if len(fields) == 5 else b""
                    out.append((fields[0], reply, bytes(buf[eol + 2 + header_size:stop])))
                pos = stop + 2
            else:
                line = bytes(buf[pos:eol])
                pos = eol + 2
                if line.startswith(b"PING"):
                    self._writer.write(b"PONG\r\n")
                elif line.startswith(b"-ERR"):
                    raise WireError(line.decode(errors="replace"))
        self._pos = pos
        return out

    async def flush(self) -> None:
        await self._writer.drain()

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()


async def request(wire: Wire, frames: AsyncGenerator[list[tuple[bytes, bytes, bytes | None]], None],
                  inbox: str, subject: str, body: dict[str, object]) -> dict[str, object]:
    """A JetStream API call: the one reply on `inbox`."""
    wire.publish(subject, inbox, json.dumps(body).encode())
    async with asyncio.timeout(TIMEOUT):
        async for batch in frames:
            for to, status, payload in batch:
                if to.decode() != inbox:
                    continue
                if payload is None:
                    raise Unsupported(f"{subject}: {status.decode(errors='replace')}")
                answer: dict[str, object] = json.loads(payload)
                if "error" in answer:
                    raise Unsupported(f"{subject}: {answer['error']}")
                return answer
    raise WireError("the connection ended")


def stream_seq(reply: str) -> int:
    """The stream sequence in a JetStream delivery's reply subject, without building metadata objects.

    `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>`; the
    longer form puts a domain and an account hash after `ACK` and may end in a further token.
    """
    tokens = reply.split(".")
    return int(tokens[5] if len(tokens) == 9 else tokens[7])


async def read_range(url: str, stream: str, start: int, end: int, *,
                     name: str = "mediaplex-wire") -> AsyncIterator[tuple[list[int], list[bytes]]]:
    """(sequences, payloads) of every message from `start` to `end`, in order, a list per read from the socket.

    `Unsupported` comes before the first list or not at all; later failures are `WireError`.
    """
    wire = await Wire.open(url, name=name)
    inbox = f"_INBOX.{secrets.token_hex(11)}"
    frames = wire.frames()
    consumer = ""
    try:
        wire.send(f"SUB {inbox}.> 1\r\n".encode())
        created = await request(wire, frames, f"{inbox}.api", f"$JS.API.CONSUMER.CREATE.{stream}", {
            "stream_name": stream,
            "config": {
                "deliver_policy": "by_start_sequence",
                "opt_start_seq": start,
                "ack_policy": "none",
                "replay_policy": "instant",
                "mem_storage": True,
                "num_replicas": 1,
                "inactive_threshold": int(INACTIVE * 1e9),
            },
        })
        consumer = str(created["name"])
        next_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"
        deliveries = f"{inbox}.d"
        # Deleted messages leave holes the server skips: counting down what it says is pending, not
        # the sequence span, ends the read without waiting out a pull on a hole at the end.
        pending = created.get("num_pending")
        wanted = min(end - start + 1, pending if isinstance(pending, int) else end - start + 1)
        asked = 0

        def ask() -> None:
            nonlocal asked
            batch = min(PULL, wanted - asked)
            if batch > 0:
                wire.publish(next_subject, deliveries,
                             json.dumps({"batch": batch, "expires": int(TIMEOUT * 1e9)}).encode())
                asked += batch

        got = 0
        if wanted <= 0:
            return
        while asked - got < PULL and asked < wanted:
            ask()
        async for batch in _timed(frames):
            seqs: list[int] = []
            payloads: list[bytes] = []
            past_end = False
            for _, reply, payload in batch:
                if payload is None:
                    # 408 when a pull expires, 409 when the consumer went away: both mean no more.
                    if reply.startswith(b"NATS/1.0 4"):
                        raise WireError(f"pull ended early: {reply.decode(errors='replace')}")
                    continue
                if not reply.startswith(b"$JS.ACK."):
                    continue
                seq = stream_seq(reply.decode())
                if seq > end:
                    past_end = True
                    break
                seqs.append(seq)
                payloads.append(payload)
            got += len(seqs)
            if seqs:
                # Between one and two pulls in flight: the server always has a request to fill.
                while asked - got < PULL and asked < wanted:
                    ask()
                yield seqs, payloads
            if past_end or got >= wanted or (seqs and seqs[-1] >= end):
                return
    finally:
        if consumer:
            with contextlib.suppress(Exception):
                wire.publish(f"$JS.API.CONSUMER.DELETE.{stream}.{consumer}", f"{inbox}.gone", b"")
                await wire.flush()
        await frames.aclose()
        await wire.close()


async def _timed(frames: AsyncGenerator[list[tuple[bytes, bytes, bytes | None]], None]
                 ) -> AsyncGenerator[list[tuple[bytes, bytes, bytes | None]], None]:
    """The frames, failing when none come for longer than a pull may wait."""
    iterator = frames.__aiter__()
    while True:
        try:
            async with asyncio.timeout(TIMEOUT + 2):
                batch = await anext(iterator)
        except StopAsyncIteration:
            return
        except TimeoutError as exc:
            raise WireError("no deliveries") from exc
        yield batch
