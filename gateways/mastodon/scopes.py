"""Mastodon's OAuth scopes, and what a token may be granted within its app's."""

from __future__ import annotations

from collections.abc import Iterable

TOP = ("read", "write", "follow", "push", "profile")
GRANULAR = tuple(
    f"read:{name}" for name in ("accounts", "blocks", "bookmarks", "favourites", "filters", "follows", "lists",
                                "mutes", "notifications", "search", "statuses")
) + tuple(
    f"write:{name}" for name in ("accounts", "blocks", "bookmarks", "conversations", "favourites", "filters",
                                 "follows", "lists", "media", "mutes", "notifications", "reports", "statuses")
)
KNOWN = frozenset(TOP + GRANULAR)
DEFAULT = ("read",)


def parse(text: str) -> tuple[str, ...]:
    """Space-separated scopes, in order, each once."""
    return tuple(dict.fromkeys(text.split()))


def unknown(scopes: Iterable[str]) -> list[str]:
    return [s for s in scopes if s not in KNOWN]


def within(wanted: Iterable[str], granted: Iterable[str]) -> bool:
    """Every wanted scope is granted, itself or through its parent (`read` grants `read:statuses`)."""
    have = set(granted)
    return all(w in have or w.split(":")[0] in have for w in wanted)
