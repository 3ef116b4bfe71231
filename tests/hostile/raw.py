"""HTTP/1.1 written byte by byte over asyncio streams, for requests an HTTP client would refuse to send."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import msgspec

Header = tuple[bytes, bytes]
# Long enough for the slowest honest refusal on a busy machine; a request that hangs fails the case.
DEADLINE = 60.0


class Reply(msgspec.Struct, frozen=True):
    status: int
    headers: dict[str, str]
    body: bytes


def encode(method: bytes, target: bytes, headers: Sequence[Header], body: bytes = b"", *,
           host: bytes = b"127.0.0.1", length: bool = True) -> bytes:
    """One request; Host and Connection: close are added, Content-Length too unless `length` is False."""
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: " + host, b"Connection: close"]
    names = {name.lower() for name, _ in headers}
    lines += [name + b": " + value for name, value in headers]
    if length and b"content-length" not in names and b"transfer-encoding" not in names:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def chunked(*chunks: bytes, end: bool = True) -> bytes:
    body = b"".join(f"{len(c):x}".encode() + b"\r\n" + c + b"\r\n" for c in chunks)
    return body + (b"0\r\n\r\n" if end else b"")


async def send(host: str, port: int, data: bytes, *, close_write: bool = False) -> Reply:
    """Writes `data`, optionally ends the sending side (a body cut short), and reads the whole answer."""
    async with asyncio.timeout(DEADLINE):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(data)
            await writer.drain()
            if close_write:
                writer.write_eof()
            raw = await _read_all(reader)
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except ConnectionError:
                pass
    return parse(raw)


async def _read_all(reader: asyncio.StreamReader) -> bytes:
    data = bytearray()
    try:
        while chunk := await reader.read(65536):
            data += chunk
    except ConnectionResetError:
        # The server may answer and reset a connection whose unread body it will not drain.
        pass
    return bytes(data)


def parse(raw: bytes) -> Reply:
    """The answer; status 0 when the connection closed without one."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    if not head:
        return Reply(status=0, headers={}, body=b"")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        rest = _dechunk(rest)
    elif "content-length" in headers:
        rest = rest[: int(headers["content-length"])]
    return Reply(status=status, headers=headers, body=rest)


def _dechunk(data: bytes) -> bytes:
    body = bytearray()
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        body += data[:size]
        data = data[size + 2:]
    return bytes(body)
