"""Where an upload's header is read: on the loop for a quick header held in memory, in a thread otherwise,
with the same answers and refusals either way."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.probe import Header, Limits, MediaRejected
from gateways.kit import ingest
from store.blobs import FileBlobStore
from tests import images


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 64 * 1024):
        yield data[start:start + 64 * 1024]


@pytest.fixture
def read_on(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each header read, whether it ran on the test's (the event loop's) thread."""
    loop_thread = threading.get_ident()
    seen: list[bool] = []
    real = ingest.read_header

    def recorded(source: Path | bytes) -> Header:
        seen.append(threading.get_ident() == loop_thread)
        return real(source)

    monkeypatch.setattr(ingest, "read_header", recorded)
    return seen


@pytest.mark.parametrize(("make", "on_loop"), [
    (images.jpeg, True), (images.png, True), (images.webp, True), (images.gif, False),
])
async def test_quick_headers_in_memory_are_read_on_the_loop(
    tmp_path: Path, read_on: list[bool], make: object, on_loop: bool
) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    data = make(tmp_path / "upload", 64, 48).read_bytes()  # type: ignore[operator]
    checked = await ingest.stage(blobs, chunks(data), max_bytes=1 << 30, limits=Limits())
    assert checked.staged.held is not None
    assert (checked.header.width, checked.header.height) == (64, 48)
    assert read_on == [on_loop]
    blobs.discard(checked.staged)


async def test_a_spooled_upload_is_read_in_a_thread(tmp_path: Path, read_on: list[bool]) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    # Past what is held in memory: a JPEG with a long comment before its pixels.
    data = images.jpeg(tmp_path / "big.jpg", 64, 48).read_bytes()
    big = data[:2] + (b"\xff\xfe\xff\xf0" + b"c" * 0xffee) * 20 + data[2:]
    checked = await ingest.stage(blobs, chunks(big), max_bytes=1 << 30, limits=Limits())
    assert checked.staged.held is None
    assert (checked.header.width, checked.header.height) == (64, 48)
    assert read_on == [False]
    blobs.discard(checked.staged)


async def test_a_corrupt_header_read_on_the_loop_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    # A JPEG's start of image and then garbage where its markers should be.
    with pytest.raises(MediaRejected) as refused:
        await ingest.stage(blobs, chunks(b"\xff\xd8\xff\xe0" + b"\x00" * 200), max_bytes=1 << 30, limits=Limits())
    assert refused.value.kind == "corrupt"
    assert not [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
