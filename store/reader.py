"""What answering requests needs from a projection, whether one file or the live generation of several."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class ProjectionReader(Protocol):
    @property
    def path(self) -> Path: ...

    @property
    def applied(self) -> int: ...

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    async def one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None: ...

    async def keyed(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None: ...

    async def wait_for(self, seq: int, timeout: float) -> bool: ...

    async def wait_until(self, check: Callable[[], Awaitable[bool]], timeout: float, *,
                         row: tuple[str, Any] | None = None) -> bool: ...

    async def digest(self) -> tuple[int, str]: ...
