"""Noticing a reader that waits for deliveries which should have come."""

from __future__ import annotations


class Stall:
    """Tells a stalled reader from an idle one by sampling its progress against the work waiting.

    A reader is stalled when work was waiting at `checks` samples in a row and its progress stood
    still across them; an idle reader (nothing waiting) or a slow one (progress moving) is not.
    """

    def __init__(self, checks: int = 2) -> None:
        if checks < 2:
            raise ValueError("a stall needs two samples at least, to see progress stand still")
        self._checks = checks
        self._progress: int | None = None
        self._seen = 0

    def sample(self, progress: int, waiting: bool) -> bool:
        """Record one sample; True when the reader is stalled (and start counting afresh)."""
        if not waiting or progress != self._progress:
            self._progress = progress if waiting else None
            self._seen = 1 if waiting else 0
            return False
        self._seen += 1
        if self._seen < self._checks:
            return False
        self._progress, self._seen = None, 0
        return True
