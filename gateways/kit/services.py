"""What the composition root hands every gateway, under one typed key.

The composition root opens and closes each of these; a gateway only uses them.
"""

from __future__ import annotations

from typing import Protocol

import msgspec
from aiohttp import web

from core.config import Config
from core.log import EventLog
from core.metrics import Metrics
from core.ports import BlobStore, DerivedFiles
from core.probe import Limits
from gateways.kit.grants import Grants
from gateways.kit.keyvalue import Buckets
from gateways.transform.cache import VariantCache
from processors.rendered import Rendered
from store.reader import ProjectionReader


class Renderer(Protocol):
    """Renders a blob's renditions in this process; any replica gets the same files from the same bytes."""

    async def __call__(self, blob: str, version: int, kind: str) -> bool:
        """Re-create missing renditions of (blob, processing version, kind); False where nothing can render."""
        ...

    async def render(self, blob: str, kind: str) -> Rendered:
        """Render the blob at the current processing version; MediaRejected when it cannot be."""
        ...


class Services(msgspec.Struct, frozen=True, kw_only=True):
    config: Config
    events: EventLog
    # The live generation: a rebuild promoted while serving replaces what it holds without a restart.
    projection: ProjectionReader
    blobs: BlobStore
    # What the Mastodon and pump.io edges let in.
    limits: Limits
    renderer: Renderer
    # Transformed images; closed by the composition root after the app.
    variants: VariantCache
    # Key-value buckets for state that is not history (OAuth request tokens, upload claims).
    buckets: Buckets
    # The process's metrics, for what a gateway counts beyond the requests themselves.
    metrics: Metrics = msgspec.field(default_factory=Metrics)
    # Renditions every host reads, made once by whichever processor rendered them; None: this host's own.
    renditions: DerivedFiles | None = None
    # Bearer tokens found lately, forgotten as the projection applies their changes; None: every
    # request asks the projection (a projection that tells nobody of its tokens must not have one).
    grants: Grants | None = None


SERVICES = web.AppKey("services", Services)
