"""What the composition root hands every gateway, under one typed key.

The composition root opens and closes each of these; a gateway only uses them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec
from aiohttp import web

from core.config import Config
from core.log import EventLog
from core.ports import BlobStore
from core.probe import Limits
from gateways.kit.keyvalue import Buckets
from gateways.transform.cache import VariantCache
from store.reader import ProjectionReader

# Re-creates missing renditions of (blob, processing version); False where nothing can render.
Regenerate = Callable[[str, int], Awaitable[bool]]


class Services(msgspec.Struct, frozen=True, kw_only=True):
    config: Config
    events: EventLog
    # The live generation: a rebuild promoted while serving replaces what it holds without a restart.
    projection: ProjectionReader
    blobs: BlobStore
    # What the Mastodon and pump.io edges let in.
    limits: Limits
    regenerate: Regenerate
    # Transformed images; closed by the composition root after the app.
    variants: VariantCache
    # Key-value buckets for state that is not history (OAuth request tokens, upload claims).
    buckets: Buckets


SERVICES = web.AppKey("services", Services)
