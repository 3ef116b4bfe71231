"""The one configuration object, built at the edge (CLI flags, then MEDIAPLEX_* variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import msgspec

S = TypeVar("S")


class Config(msgspec.Struct, frozen=True):
    data_dir: Path = Path("data")
    # Empty: start an embedded nats-server with its store under the data directory.
    nats_urls: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    port: int = 8080
    # The URL clients see; every URL in a response is built from it.
    public_url: str = ""
    blobs_dir: Path | None = None
    # "file": blobs under `blobs`, one filesystem every role shares; "nats": in a JetStream object store
    # bucket on the cluster the log runs on, so roles on other hosts share nothing else.
    blob_store: str = "file"
    # Bytes of an object store's blobs each host keeps for libvips and FFmpeg to read, and of each of its
    # renditions and variants.
    blob_cache_bytes: int = 2 * 1024**3
    stream: str = "MEDIAPLEX"
    subject_prefix: str = "mx"
    stream_replicas: int = 1
    processor_concurrency: int = 2
    # The lanes (core/kinds.py) a processor works: `--media image|video|audio|all`.
    processor_lanes: tuple[str, ...] = ("image", "video", "audio")
    # Video and audio jobs each of those lanes works on at once; each FFmpeg job uses a few threads itself.
    av_concurrency: int = 1
    # Uploads that nothing attached, through gateways whose sweep policy says so, are deleted after this many seconds.
    unposted_ttl: float = 24 * 3600.0
    sweep_interval: float = 600.0
    # Seconds the sweeper leaves a temp file, or a blob no media names, alone: a temp file may still be
    # written to, a blob's upload event may not be projected yet. Older ones are a crash's leftovers.
    sweep_grace: float = 3600.0
    # Each gateway's own settings Struct (gateways.registry lists them); a missing one means its defaults.
    gateway_settings: tuple[Any, ...] = ()

    def settings(self, kind: type[S]) -> S:
        for found in self.gateway_settings:
            if isinstance(found, kind):
                return found
        return kind()

    def with_settings(self, *replaced: Any) -> Config:
        kinds = tuple(type(r) for r in replaced)
        kept = tuple(s for s in self.gateway_settings if not isinstance(s, kinds))
        return msgspec.structs.replace(self, gateway_settings=kept + tuple(replaced))

    @property
    def blobs(self) -> Path:
        return self.blobs_dir if self.blobs_dir is not None else self.data_dir / "blobs"

    @property
    def blob_cache(self) -> Path:
        """Local copies of an object store's blobs, and uploads being staged before they go there."""
        return self.data_dir / "blobcache"

    @property
    def blob_bucket(self) -> str:
        return f"{self.stream}_blobs"

    def derived_bucket(self, what: str) -> str:
        """The bucket of an object store's renditions or variants (`what`)."""
        return f"{self.stream}_{what}"

    @property
    def renditions(self) -> Path:
        return self.data_dir / "renditions"

    @property
    def variants(self) -> Path:
        """Transformed images, cached by (blob, normalized parameters)."""
        return self.data_dir / "variants"

    @property
    def projection_dir(self) -> Path:
        return self.data_dir / "projection"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def nats_store(self) -> Path:
        return self.data_dir / "nats"

    @property
    def base_url(self) -> str:
        url = self.public_url or f"http://{self.host}:{self.port}"
        return url.rstrip("/")
