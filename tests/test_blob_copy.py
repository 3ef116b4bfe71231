"""`mediaplex blobs copy`: a directory's blobs into the object store, resumable, checked by hash."""

from __future__ import annotations

import hashlib
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from core.jetstream import connect
from mediaplex.blobcopy import copy_blobs
from store.blobs import FileBlobStore
from store.objectblobs import BucketSettings, ObjectBlobStore
from tests.cluster import MEDIAPLEX


async def one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def filled(root: Path, count: int) -> tuple[FileBlobStore, list[bytes]]:
    source = FileBlobStore(root)
    datas = [f"blob {i} ".encode() * (i * 40_000 + 1) for i in range(count)]
    for data in datas:
        assert await source.commit(await source.receive(one(data), limit=len(data)))
    return source, datas


async def test_a_copy_skips_what_is_there_and_leaves_out_damaged_bytes(nats_url: str, tmp_path: Path) -> None:
    source, datas = await filled(tmp_path / "blobs", 5)
    damaged = hashlib.sha256(datas[4]).hexdigest()
    source.path(damaged).write_bytes(b"bit rot")
    client = await connect([nats_url], name="copy-tests")
    try:
        settings = BucketSettings(bucket=f"copy-{uuid.uuid4().hex[:10]}")
        target = ObjectBlobStore(client.jetstream(), tmp_path / "cache", settings)
        await target.open()
        # As if an earlier copy had got this far.
        first = datas[0]
        assert await target.commit(await target.receive(one(first), limit=len(first)))
        seen: list[tuple[int, int]] = []
        copied = await copy_blobs(source, target, lambda done, total: seen.append((done, total)))
        assert (copied.copied, copied.present, copied.mismatched) == (3, 1, [damaged])
        assert seen == [(n, 5) for n in range(1, 6)]
        elsewhere = ObjectBlobStore(client.jetstream(), tmp_path / "elsewhere", settings)
        for data in datas[:4]:
            assert (await elsewhere.local(hashlib.sha256(data).hexdigest())).read_bytes() == data
        assert not await target.has(damaged)
        again = await copy_blobs(source, target, lambda done, total: None)
        assert (again.copied, again.present) == (0, 4)
    finally:
        await client.close()


async def test_the_command_copies_a_directory_into_the_object_store(tmp_path: Path) -> None:
    await filled(tmp_path / "old-blobs", 3)

    def copy(source: Path | str, target: Path | str) -> subprocess.CompletedProcess[str]:
        # No --nats: the command starts the embedded broker on --data, as a server there would.
        return subprocess.run([*MEDIAPLEX, "blobs", "copy", "--from", str(source), "--to", str(target),
                               "--data", str(tmp_path / "data")], capture_output=True, text=True, timeout=120)

    result = copy(tmp_path / "old-blobs", "nats://")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("copied 3 blobs, 0 there already, 0 left out")
    assert copy(tmp_path / "old-blobs", "nats://").stdout.startswith("copied 0 blobs, 3 there already, 0 left out")
    # And back out of the object store, into a directory of its own.
    result = copy("nats://", tmp_path / "new-blobs")
    assert result.stdout.startswith("copied 3 blobs, 0 there already, 0 left out")
    assert sorted(p.read_bytes() for p in (tmp_path / "new-blobs").glob("??/??/*")) == sorted(
        p.read_bytes() for p in (tmp_path / "old-blobs").glob("??/??/*"))
    same = copy(tmp_path / "old-blobs", tmp_path / "old-blobs")
    assert same.returncode == 2 and "same store" in same.stderr
