"""How pump.io collections are paged: by `count` and `offset`, or by `before`/`since` naming an item.

Feeds, collection members and a user's lists take an item id as their cursor; the people and
objects of likes, shares, follows, favorites and uploads page by offset alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from gateways.kit import numbers
from gateways.kit.refusal import Refusal
from gateways.pumpio import render
from store.queries.feeds import Cursor

DEFAULT_COUNT = 20
MAX_COUNT = 200
# Far past any feed, and far inside SQLite's 64-bit integers.
MAX_OFFSET = 1_000_000_000

BAD_COUNT = f"Count must be between 0 and {MAX_COUNT}"
BAD_OFFSET = "Offset must be a whole number, 0 or more"
FAR_OFFSET = f"Offset must be at most {MAX_OFFSET}"
BEFORE_AND_SINCE = "Use either 'before' or 'since', not both."
CURSOR_AND_OFFSET = "'offset' cannot be combined with 'before' or 'since'."


def count_param(query: Mapping[str, str]) -> int:
    return _whole(query.get("count"), DEFAULT_COUNT, BAD_COUNT, MAX_COUNT)


def offset_param(query: Mapping[str, str]) -> int:
    raw = query.get("offset") or ""
    if raw.isascii() and raw.isdigit() and numbers.whole(raw, MAX_OFFSET) is None:
        raise Refusal(400, FAR_OFFSET)
    return _whole(raw, 0, BAD_OFFSET, MAX_OFFSET)


def _whole(value: str | None, default: int, message: str, most: int) -> int:
    if value is None or value == "":
        return default
    number = numbers.whole(value, most)
    if number is None:
        raise Refusal(400, message)
    return number


async def cursor(query: Mapping[str, str], seq_of: Callable[[str], Awaitable[int | None]], what: str) -> Cursor:
    """The page a query asks for; `seq_of` finds the sequence of the item `before` or `since` names."""
    count, offset = count_param(query), offset_param(query)
    before, since = query.get("before"), query.get("since")
    if before and since:
        raise Refusal(400, BEFORE_AND_SINCE)
    if (before or since) and "offset" in query:
        raise Refusal(400, CURSOR_AND_OFFSET)
    if not (before or since):
        return Cursor(count=count, offset=offset)
    name, value = ("before", before) if before else ("since", since)
    assert value is not None
    seq = await seq_of(value)
    if seq is None:
        raise Refusal(400, f"Unknown {what} in '{name}': {value}")
    return Cursor(count=count, before=seq) if before else Cursor(count=count, since=seq)


def cursor_links(url: str, query: Mapping[str, str], ids: list[str], older: bool) -> dict[str, dict[str, str]]:
    """`prev` is `since` the page's first item and `next` is `before` its last, only while older items exist."""
    count = query.get("count") or None
    links = {"first": render.link(url, count=count), "self": render.link(url, **dict(query))}
    if ids:
        links["prev"] = render.link(url, since=ids[0], count=count)
    if older:
        links["next"] = render.link(url, before=ids[-1], count=count)
    return links


class Window:
    """A page read by `count` and `offset` from the query, as feeds read them."""

    def __init__(self, query: Mapping[str, str]) -> None:
        self.count = count_param(query)
        self.offset = offset_param(query)

    def links(self, url: str, shown: int, total: int) -> dict[str, dict[str, str]]:
        """`next` only while items are left past this page, so a client paging by it stops at the end."""
        count, offset = self.count, self.offset
        links = {"first": render.link(url, count=count), "self": render.link(url, count=count, offset=offset or None)}
        if offset > 0:
            links["prev"] = render.link(url, count=count, offset=max(offset - count, 0) or None)
        if shown and offset + shown < total:
            links["next"] = render.link(url, count=count, offset=offset + shown)
        return links
