"""What was read of the projection, by key, kept in memory until the projection says those rows changed.

The projection tells whoever keeps such reads of every key a batch changes before anyone waits on that
batch (store.projection.Told), and `forget` drops them then. A read that began before a `forget` is not
kept, as it may have seen the rows from before it: so an answer from memory is never older than what
asking the projection there and then would give.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

T = TypeVar("T")


class Kept(Generic[T]):
    def __init__(self, limit: int = 4096) -> None:
        self._limit = limit
        self._kept: OrderedDict[str, T] = OrderedDict()
        # Bumped by each `forget`: what was read before one is not kept.
        self._forgotten = 0

    def __len__(self) -> int:
        return len(self._kept)

    def get(self, key: str) -> T | None:
        found = self._kept.get(key)
        if found is not None:
            self._kept.move_to_end(key)
        return found

    @property
    def since(self) -> int:
        """To take before reading the rows, and hand to `keep` with what was read."""
        return self._forgotten

    def keep(self, key: str, value: T, *, since: int) -> None:
        if since != self._forgotten:
            return
        self._kept[key] = value
        self._kept.move_to_end(key)
        while len(self._kept) > self._limit:
            self._kept.popitem(last=False)

    def forget(self, keys: frozenset[str]) -> None:
        self._forgotten += 1
        for key in keys:
            self._kept.pop(key, None)
