"""The one configuration object, built at the edge (CLI flags, then MEDIAPLEX_* variables)."""

from __future__ import annotations

from pathlib import Path

import msgspec


class Config(msgspec.Struct, frozen=True):
    data_dir: Path = Path("data")
    # Empty: start an embedded nats-server with its store under the data directory.
    nats_urls: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    port: int = 8080
    # The URL clients see; every URL in a response is built from it.
    public_url: str = ""
    blobs_dir: Path | None = None
    stream: str = "MEDIAPLEX"
    subject_prefix: str = "mx"
    stream_replicas: int = 1
    image_size_limit: int = 16 * 1024 * 1024
    description_limit: int = 1500
    # How long POST /api/v2/media waits for an image to finish before answering 202.
    v2_sync_wait: float = 5.0
    # How long the synchronous POST /api/v1/media waits for processing at most.
    v1_sync_wait: float = 60.0
    processor_concurrency: int = 2
    # Uploads through pump.io that are never posted are deleted after this many seconds.
    unposted_ttl: float = 24 * 3600.0
    sweep_interval: float = 600.0
    # Presigned uploads (POST /media, then PUT to the signed URL).
    presigned_size_limit: int = 10 * 1024 * 1024
    upload_url_ttl: float = 15 * 60.0
    # HMAC key of upload URLs; empty: one generated key, kept in the broker, shared by every replica.
    upload_secret: str = ""
    # When set, every transformation URL must carry a valid `s=` signature made with this key.
    transform_key: str = ""

    @property
    def blobs(self) -> Path:
        return self.blobs_dir if self.blobs_dir is not None else self.data_dir / "blobs"

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
