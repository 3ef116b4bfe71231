"""Collections paged by `count` and `offset` (people, and the objects a person favorited), newest first."""

from __future__ import annotations

from collections.abc import Mapping

from gateways.pumpio import render
from gateways.pumpio.objects import count_param, offset_param


class Window:
    """One page of a collection: how many items from where, read from the query as feeds read it."""

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
