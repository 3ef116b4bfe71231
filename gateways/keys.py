"""Typed keys for what the composition root hands every gateway app."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from core.config import Config
from core.log import EventLog
from core.ports import BlobStore
from core.probe import Limits
from gateways.kit.keyvalue import Buckets
from gateways.transform.cache import VariantCache
from store.reader import ProjectionReader

# Re-creates missing renditions of (blob, processing version); None where nothing can render.
Regenerate = Callable[[str, int], Awaitable[bool]]

CONFIG = web.AppKey("config", Config)
EVENTS: web.AppKey[EventLog] = web.AppKey("events")
# The live generation: a rebuild promoted while serving replaces it without a restart.
PROJECTION: web.AppKey[ProjectionReader] = web.AppKey("projection")
BLOBS: web.AppKey[BlobStore] = web.AppKey("blobs")
LIMITS = web.AppKey("limits", Limits)
REGENERATE: web.AppKey[Regenerate] = web.AppKey("regenerate")
# What is not ready yet, by part ("nats", "projection", "processor"); empty when ready.
Readiness = Callable[[], Awaitable[Mapping[str, str]]]
READINESS: web.AppKey[Readiness] = web.AppKey("readiness")
# Transformed images: owned by the composition root, which closes it after the app.
VARIANTS = web.AppKey("variants", VariantCache)
# Shared key-value state (claims, nonces, request tokens): owned by the composition root.
BUCKETS: web.AppKey[Buckets] = web.AppKey("buckets")
