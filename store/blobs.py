"""Content-addressed files on a filesystem: sha256 names, temp file, sync, link, sync.

An upload is in a private temp file, or held in memory and written to one on commit; committing syncs
the file's bytes, links it under its hash and syncs that directory entry (and those of the fan-out
directories made for it), all before the caller appends the event that names it. Commits that arrive
together share those writes and syncs (store/groupcommit.py).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterable, Iterator, Sequence
from pathlib import Path

from core.ports import SHA256, Staged, checked_name
from store.groupcommit import FileSync, GroupCommit
from store.staging import Staging


class FileBlobStore:
    def __init__(self, root: Path, sync: FileSync | None = None) -> None:
        self._root = root
        self._staging = Staging(root / "tmp")
        self._sync = sync or FileSync(root)
        # One stage doing both syncs, not one stage for each so that a batch's names sync while the next
        # batch's bytes do: each stage costs every batch a trip to a worker thread and back, and on a busy
        # loop those trips cost more CPU than the overlap saves time (a fifth of an upload's, measured).
        self._committed = GroupCommit[Staged, bool](self._commit_batch)

    def path(self, sha256: str) -> Path:
        checked_name(sha256)
        return self._root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    async def has(self, sha256: str) -> bool:
        return self.exists(sha256)

    async def local(self, sha256: str) -> Path:
        path = self.path(sha256)
        if not path.exists():
            raise FileNotFoundError(path)
        return path

    async def receive(self, chunks: AsyncIterable[bytes], limit: int) -> Staged:
        # Not synced yet: that is commit's, where uploads committing together share one sync.
        return await self._staging.receive(chunks, limit)

    async def commit(self, staged: Staged) -> bool:
        return await self._committed.submit(staged)

    def _commit_batch(self, batch: Sequence[Staged]) -> list[bool | BaseException]:
        """Every file's bytes synced, then each linked under its hash, then the names synced: no name
        is ever durable before the bytes it names."""
        outcomes: list[bool | BaseException] = [False] * len(batch)
        written: list[int] = []
        for index, staged in enumerate(batch):
            if staged.held is not None:
                try:
                    staged.path.write_bytes(staged.held)
                except OSError as exc:
                    staged.path.unlink(missing_ok=True)
                    outcomes[index] = exc
                    continue
            written.append(index)
        self._sync.paths([batch[index].path for index in written])
        named: list[Path] = []
        for index in written:
            staged = batch[index]
            try:
                outcomes[index] = self._link(staged, named)
            except OSError as exc:
                if staged.held is not None:
                    # Written here, and nobody else knows the file: no sweep grace need pass first.
                    staged.path.unlink(missing_ok=True)
                outcomes[index] = exc
                continue
            # Bytes that were there already may have been linked by another process still syncing:
            # either way the name is durable before any caller appends an event naming it.
            named.append(self.path(staged.sha256).parent)
        self._sync.paths(named)
        return outcomes

    def _link(self, staged: Staged, named: list[Path]) -> bool:
        """Whether the link was made; the directories made for it go into `named`, whose new entries
        must be synced as the link's is."""
        final = self.path(staged.sha256)
        try:
            # A link is created only where no file is: of uploads of the same bytes committing at
            # once, exactly one is told it created the blob (and may take it back if its event fails).
            try:
                os.link(staged.path, final)
            except FileNotFoundError:
                if not staged.path.exists():
                    raise
                self._make_parents(final, named)
                os.link(staged.path, final)
        except FileExistsError:
            staged.path.unlink(missing_ok=True)
            # Fresh again: the sweeper leaves blobs touched within its grace period alone, so
            # bytes re-uploaded just now are not collected before their event is projected.
            os.utime(final)
            return False
        staged.path.unlink()
        return True

    def _make_parents(self, final: Path, named: list[Path]) -> None:
        """The fan-out directories of `final`, made where missing; each one made puts the directory
        holding its new entry into `named`."""
        for directory in (final.parent.parent, final.parent):
            try:
                directory.mkdir()
            except FileExistsError:
                continue
            named.append(directory.parent)

    def discard(self, staged: Staged) -> None:
        self._staging.discard(staged)

    async def remove(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)

    async def stored(self) -> list[tuple[str, float]]:
        return await asyncio.to_thread(lambda: list(self._stored()))

    def _stored(self) -> Iterator[tuple[str, float]]:
        for path in self._root.glob("??/??/*"):
            if SHA256.fullmatch(path.name):
                yield path.name, path.stat().st_mtime

    def leftovers(self) -> list[Path]:
        return self._staging.leftovers()

    async def unfinished(self, older_than: float) -> int:
        # A write in progress here is a temp file of the staging area until its rename: none in the store.
        return 0
