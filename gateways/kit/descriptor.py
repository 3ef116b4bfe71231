"""What a protocol gateway is to the rest of Mediaplex: one descriptor, listed in gateways.registry.

The composition root mounts every listed gateway on one app, the error boundary renders each route's
failures in its gateway's style, the CLI turns each gateway's settings into flags with MEDIAPLEX_*
fallbacks, processing accepts the widest of the gateways' upload limits, and the sweeper deletes
unattached uploads only of the gateways whose policy says so.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

import msgspec
from aiohttp import web

from core.probe import Limits
from gateways.kit.openapi import Fragment
from gateways.kit.refusal import ErrorStyle


class Flag(msgspec.Struct, frozen=True):
    """One setting on the command line: `--flag`, falling back to MEDIAPLEX_<FLAG> in the environment."""

    # The field of the gateway's settings Struct it sets; its type and default come from there.
    field: str
    flag: str
    help: str

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def env(self) -> str:
        return "MEDIAPLEX_" + self.dest.upper()


class AuthorizeFlow(msgspec.Struct, frozen=True):
    """One protocol's share of `/oauth/authorize`, which several sign-in protocols serve on the one path.

    The composition root mounts the path once and hands each request to the first flow whose `claims`
    accepts its parameters (the query, and on a POST the form too).
    """

    claims: Callable[[Mapping[str, str]], bool]
    page: Callable[[web.Request], Awaitable[web.StreamResponse]]
    # Takes the form the dispatcher already read.
    submit: Callable[[web.Request, dict[str, str]], Awaitable[web.StreamResponse]]


class Gateway(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    # Adds the gateway's routes to the shared app; every route it adds answers in `errors`.
    routes: Callable[[web.Application], None]
    errors: ErrorStyle
    # A frozen Struct whose defaults are the gateway's defaults; None when it has nothing to set.
    settings: type[msgspec.Struct] | None = None
    flags: tuple[Flag, ...] = ()
    # What this edge lets in; the processor accepts the widest of all gateways' limits.
    limits: Limits | None = None
    # Uploads through this gateway (their `via`) that nothing attaches are deleted after the unposted TTL.
    sweeps_unattached: bool = False
    # `via` of the uploads this gateway records.
    via: str = ""
    # Paths (and their operations) of this gateway for the OpenAPI document.
    openapi: Callable[[], Fragment] | None = None
    # Run once the app's services are set, before it serves: keys, buckets, anything the routes need.
    start: Callable[[web.Application], Awaitable[None]] | None = None
    # Its part of the shared `/oauth/authorize` page, if it signs users in there.
    authorize: AuthorizeFlow | None = None
