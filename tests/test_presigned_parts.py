"""The pieces of presigned uploads on their own: signing, file names, completeness, limits, the shared key."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import msgspec
import pytest

from core.completeness import check_complete
from core.config import Config
from core.ids import media_id_time, new_media_id
from core.jetstream import JetStreamLog
from core.probe import Header, Limits, MediaRejected, check_limits, widest
from gateways.kit.jetstream_kv import JetStreamBuckets
from gateways.presigned import filenames
from gateways.presigned.secret import shared_key, upload_key
from gateways.presigned.settings import PresignedSettings
from gateways.presigned.signing import Grant, Signer, grant_from
from mediaplex.cli import config_from, parser
from tests import images

GRANT = Grant(media_id="123", content_type="image/png", max_bytes=1000, expires=1_800_000_000)


def test_a_signature_binds_every_part_of_the_grant() -> None:
    signer = Signer(b"k" * 32)
    signature = signer.signature(GRANT)
    assert "=" not in signature and "+" not in signature and "/" not in signature
    assert signer.verify(GRANT, signature)
    for change in ({"media_id": "124"}, {"content_type": "image/jpeg"}, {"max_bytes": 1001},
                   {"expires": 1_800_000_001}):
        assert not signer.verify(msgspec.structs.replace(GRANT, **change), signature)
    assert not Signer(b"other key").verify(GRANT, signature)
    assert not signer.verify(GRANT, "")
    assert not signer.verify(GRANT, "é" * 43)
    with pytest.raises(ValueError):
        Signer(b"")


def test_the_url_carries_the_grant() -> None:
    signer = Signer(b"key")
    url = signer.url("https://media.example", GRANT)
    assert url.startswith("https://media.example/media/123/upload?ct=image%2Fpng&max=1000&exp=1800000000&sig=")
    query = dict(part.split("=", 1) for part in url.split("?", 1)[1].split("&"))
    parsed = grant_from("123", {"ct": "image/png", "max": query["max"], "exp": query["exp"]})
    assert parsed == GRANT
    for bad in ({"max": "1000"}, {"ct": "image/png", "max": "-1", "exp": "1"},
                {"ct": "image/png", "max": "1²", "exp": "1"}, {"ct": "image/png", "max": "1", "exp": "9" * 40}):
        assert grant_from("123", bad) is None


def test_file_names() -> None:
    for good in ("cat.png", "Kätzchen.png", "a b (1).jpeg", "x" * 255, "ü" * 127):
        assert filenames.check(good) == good
    for bad in ("", "   ", ".", "..", "a/b.png", "a\\b.png", "a\x00.png", "a\x7f.png", "a\u202e.png",
                "x" * 256, "ü" * 128):
        with pytest.raises(filenames.BadFilename):
            filenames.check(bad)
    assert filenames.content_disposition("cat.png") == 'inline; filename="cat.png"'
    assert filenames.content_disposition("日本.png") == (
        "inline; filename=\"__.png\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.png"
    )
    assert filenames.content_disposition('a"b.png') == "inline; filename=\"a_b.png\"; filename*=UTF-8''a%22b.png"


@pytest.mark.parametrize(("make", "content_type"), [
    (lambda p: images.png(p, 64, 48), "image/png"),
    (lambda p: images.jpeg(p, 64, 48), "image/jpeg"),
    (lambda p: images.gif(p, 64, 48), "image/gif"),
    (lambda p: images.webp(p, 64, 48), "image/webp"),
])
def test_a_cut_off_image_is_incomplete(tmp_path: Path, make: object, content_type: str) -> None:
    path = make(tmp_path / "in")  # type: ignore[operator]
    check_complete(path, content_type)
    images.truncate(path, 0.7)
    with pytest.raises(MediaRejected) as caught:
        check_complete(path, content_type)
    assert caught.value.kind == "corrupt"


def test_a_jpeg_with_a_trailer_is_complete(tmp_path: Path) -> None:
    path = images.jpeg(tmp_path / "in.jpg", 64, 48)
    path.write_bytes(path.read_bytes() + b"vendor trailer" * 100)
    check_complete(path, "image/jpeg")


def test_side_limit_and_the_widest_limits() -> None:
    presigned = Limits(max_pixels=100_000_000, max_side=12_000)
    check_limits(Header("image/png", 12_000, 8_000, 1), presigned)
    for width, height in ((12_001, 10), (10, 12_001), (10_001, 10_000)):
        with pytest.raises(MediaRejected) as caught:
            check_limits(Header("image/png", width, height, 1), presigned)
        assert caught.value.kind == "too_many_pixels"
    # Mastodon has no side limit, and a strip within its area limit passes.
    check_limits(Header("image/png", 30_000, 1_000, 1), Limits())
    assert widest(Limits(), presigned) == Limits(max_pixels=100_000_000, max_gif_pixels=921_600, max_side=None)
    assert widest(presigned, Limits(max_side=20_000)).max_side == 20_000


def test_media_ids_carry_their_time() -> None:
    before = time.time()
    when = media_id_time(new_media_id())
    assert when is not None and before - 0.002 <= when <= time.time() + 0.002
    assert media_id_time("old-unposted") is None


def replica(events: JetStreamLog) -> JetStreamBuckets:
    """The buckets as one more gateway replica on the same stream sees them."""
    return JetStreamBuckets(events.client, events.stream)


async def test_replicas_agree_on_one_generated_key(jetstream_log: JetStreamLog) -> None:
    keys = await asyncio.gather(*(shared_key(replica(jetstream_log)) for _ in range(4)))
    assert len(set(keys)) == 1 and len(keys[0]) >= 32
    assert await shared_key(replica(jetstream_log)) == keys[0]
    # The bucket deployments already hold: a restart keeps verifying the URLs handed out before it.
    bucket = await jetstream_log.jetstream.key_value(f"{jetstream_log.stream}_upload_secret")
    assert (await bucket.get("upload-url-hmac")).value == keys[0]
    assert (await bucket.status()).ttl in (None, 0)


async def test_a_configured_key_wins(jetstream_log: JetStreamLog) -> None:
    configured = Config().with_settings(PresignedSettings(upload_secret="from the flag"))
    assert await upload_key(configured, replica(jetstream_log)) == b"from the flag"
    assert await upload_key(Config(), replica(jetstream_log)) == await shared_key(replica(jetstream_log))


def test_the_serve_flag_falls_back_to_the_environment() -> None:
    assert config_from(parser({}).parse_args(["serve"])).settings(PresignedSettings).upload_secret == ""
    env = {"MEDIAPLEX_UPLOAD_SECRET": "from env"}
    assert config_from(parser(env).parse_args(["serve"])).settings(PresignedSettings).upload_secret == "from env"
    flagged = parser(env).parse_args(["serve", "--upload-secret", "from flag"])
    assert config_from(flagged).settings(PresignedSettings).upload_secret == "from flag"
