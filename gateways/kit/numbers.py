"""Whole numbers from query strings and protocol parameters, range-checked before conversion.

`int()` takes thousands of digits, Unicode digits and signs; the result can still overflow SQLite or
a float. Only ASCII digits, no more than the largest accepted value has, are converted at all.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"[0-9]+")


def whole(raw: str, most: int) -> int | None:
    """`raw` as a number from 0 to `most`, or None when it is anything else."""
    if len(raw) > len(str(most)) or not _DIGITS.fullmatch(raw):
        return None
    number = int(raw)
    return number if number <= most else None
