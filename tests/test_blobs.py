"""The filesystem blob store: content addressing, caps while streaming, nothing partial left."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.ports import TooLarge
from store.blobs import FileBlobStore


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_receive_commit_and_read_back(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    staged = await store.receive(chunks(b"hello ", b"world"), limit=100)
    assert staged.sha256 == hashlib.sha256(b"hello world").hexdigest()
    assert staged.size == 11
    assert not store.exists(staged.sha256)
    assert await store.commit(staged) is True
    assert store.path(staged.sha256).read_bytes() == b"hello world"
    again = await store.receive(chunks(b"hello world"), limit=100)
    assert await store.commit(again) is False
    assert store.leftovers() == []


async def test_over_the_cap_stops_and_leaves_nothing(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    read = []

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(1000):
            read.append(1)
            yield b"x" * 1024

    with pytest.raises(TooLarge):
        await store.receive(endless(), limit=10 * 1024)
    assert len(read) == 11  # stopped at the first chunk past the cap
    assert store.leftovers() == []


async def test_exactly_the_cap_is_accepted(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    staged = await store.receive(chunks(b"x" * 10), limit=10)
    assert staged.size == 10


async def test_a_failing_stream_leaves_nothing(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)

    async def broken() -> AsyncIterator[bytes]:
        yield b"abc"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await store.receive(broken(), limit=100)
    assert store.leftovers() == []


def test_names_that_are_not_hashes_are_refused(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    for bad in ("../../etc/passwd", "A" * 64, "ab", "0" * 63 + "/"):
        with pytest.raises(ValueError):
            store.path(bad)
