"""Video, audio and animated GIFs through a whole server, uploaded by real clients, decoded back with PyAV."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest
import requests
from mastodon import Mastodon
from mastodon.errors import MastodonAPIError

from core.events import MediaFailed, MediaProcessed
from tests import avsamples, images
from tests.servers import Running, Servers, bearer
from tests.test_pumpio_feed import login


def client(server: Running, token: str) -> Mastodon:
    return Mastodon(access_token=token, api_base_url=server.url, request_timeout=60)


def probe(data: bytes) -> dict[str, Any]:
    """What PyAV reads back from a served file: codecs, size, pixel format, frames and duration."""
    with av.open(io.BytesIO(data)) as container:
        video = next((s for s in container.streams.video), None)
        audio = next((s for s in container.streams.audio), None)
        frames = sum(1 for packet in container.demux(video) if packet.size) if video is not None else 0
        return {
            "format": container.format.name,
            "video": video.codec_context.name if video is not None else None,
            "size": (video.codec_context.width, video.codec_context.height) if video is not None else None,
            "pix_fmt": video.codec_context.pix_fmt if video is not None else None,
            # FFmpeg decodes MP3 with its floating-point decoder, named apart from the format.
            "audio": {"mp3float": "mp3"}.get(audio.codec_context.name, audio.codec_context.name) if audio else None,
            "frames": frames,
            "duration": container.duration / av.time_base if container.duration else 0.0,
        }


def video_packets(data: bytes) -> list[bytes]:
    with av.open(io.BytesIO(data)) as container:
        return [bytes(packet) for packet in container.demux(container.streams.video[0]) if packet.size]


async def uploaded(http: aiohttp.ClientSession, server: Running, token: str, path: Path) -> dict[str, Any]:
    """POST /api/v2/media, then poll as Mastodon clients do (faster than Mastodon.py's five seconds)."""
    form = aiohttp.FormData()
    form.add_field("file", path.read_bytes(), filename=path.name, content_type="application/octet-stream")
    async with http.post(f"{server.url}/api/v2/media", data=form, headers=bearer(token)) as r:
        assert r.status in (200, 202), await r.text()
        body = await r.json()
    deadline = time.monotonic() + 60
    while body["url"] is None:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
        async with http.get(f"{server.url}/api/v1/media/{body['id']}", headers=bearer(token)) as r:
            assert r.status in (200, 206), await r.text()
            body = await r.json()
    return body


def fetch(url: str, **headers: str) -> requests.Response:
    response = requests.get(url, headers=headers, timeout=30)
    return response


async def test_mastodon_py_posts_a_video_synchronously_and_gets_mastodons_shape(server: Running,
                                                                                 tmp_path: Path) -> None:
    token = await server.token("alice")
    # Odd dimensions and VP9 in WebM: transcoded, cropped to even.
    clip = avsamples.vp9_webm(tmp_path / "clip.webm", width=97, height=65, frames=24, rate=24)

    def use_the_client() -> tuple[dict, dict]:
        api = client(server, token)
        posted = api.media_post(str(clip), synchronous=True, description="a clip")
        status = api.status_post("a clip", media_ids=[posted])
        return posted, status

    posted, status = await asyncio.to_thread(use_the_client)
    assert posted["type"] == "video" and posted["description"] == "a clip"
    assert posted["url"].endswith("/original.mp4") and posted["preview_url"].endswith("/small.png")
    assert len(posted["blurhash"]) == 36
    original = posted["meta"]["original"]
    assert (original["width"], original["height"], original["frame_rate"]) == (96, 64, "24/1")
    assert 0.9 <= original["duration"] <= 1.1 and original["bitrate"] > 0
    # The preview is the first frame as it is, before the crop to even sides.
    assert posted["meta"]["small"]["width"] == 97 and posted["meta"]["small"]["height"] == 65
    assert status["media_attachments"][0]["type"] == "video"
    served = await asyncio.to_thread(fetch, posted["url"])
    assert served.headers["Content-Type"] == "video/mp4" and served.headers.get("Accept-Ranges") == "bytes"
    got = probe(served.content)
    assert (got["video"], got["size"], got["pix_fmt"], got["audio"]) == ("h264", (96, 64), "yuv420p", "aac")
    assert got["frames"] == 24
    preview = await asyncio.to_thread(fetch, posted["preview_url"])
    assert preview.headers["Content-Type"] == "image/png"


async def test_v2_answers_202_at_once_for_a_video_and_the_client_polls(server: Running, tmp_path: Path,
                                                                        http: aiohttp.ClientSession) -> None:
    token = await server.token("alice")
    clip = avsamples.h264_mp4(tmp_path / "clip.mp4").read_bytes()
    form = aiohttp.FormData()
    form.add_field("file", clip, filename="clip.mp4", content_type="video/mp4")
    async with http.post(f"{server.url}/api/v2/media", data=form, headers=bearer(token)) as r:
        assert r.status == 202
        first = await r.json()
    assert first["type"] == "video" and first["url"] is None
    deadline = time.monotonic() + 60
    while True:
        async with http.get(f"{server.url}/api/v1/media/{first['id']}", headers=bearer(token)) as r:
            body = await r.json()
            if r.status == 200:
                break
            assert r.status == 206 and body["url"] is None
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    assert body["url"].endswith("/original.mp4")
    # H.264 + AAC yuv420p MP4 with even dimensions: its video stream is passed through untouched.
    async with http.get(body["url"]) as r:
        served = await r.read()
    assert video_packets(served) == video_packets(clip)


async def test_range_requests_on_a_video_file(server: Running, tmp_path: Path, http: aiohttp.ClientSession) -> None:
    token = await server.token("alice")
    posted = await uploaded(http, server, token, avsamples.h264_mp4(tmp_path / "clip.mp4"))
    whole = (await asyncio.to_thread(fetch, posted["url"])).content
    part = await asyncio.to_thread(fetch, posted["url"], Range="bytes=100-199")
    assert part.status_code == 206 and part.content == whole[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(whole)}"
    tail = await asyncio.to_thread(fetch, posted["url"], Range="bytes=-10")
    assert tail.status_code == 206 and tail.content == whole[-10:]
    past = await asyncio.to_thread(fetch, posted["url"], Range=f"bytes={len(whole) + 5}-")
    assert past.status_code == 416


@pytest.mark.parametrize(("name", "make", "codec"), [
    ("tone.mp3", lambda p: avsamples.mp3(p), "mp3"),
    ("tone.flac", lambda p: avsamples.audio(p, format="flac", codec="flac"), "mp3"),
    ("tone.wav", lambda p: avsamples.audio(p, format="wav", codec="pcm_s16le"), "mp3"),
    ("tone.ogg", lambda p: avsamples.audio(p, format="ogg", codec="libopus"), "mp3"),
    ("tone.m4a", lambda p: avsamples.audio(p, format="ipod", codec="aac"), "mp3"),
])
async def test_audio_becomes_mp3_with_duration_and_bitrate(server: Running, tmp_path: Path, http: aiohttp.ClientSession,
                                                           name: str, make: Any, codec: str) -> None:
    token = await server.token("alice")
    posted = await uploaded(http, server, token, make(tmp_path / name))
    assert posted["type"] == "audio" and posted["url"].endswith("/original.mp3")
    assert set(posted["meta"]["original"]) == {"duration", "bitrate"}
    assert 0.9 <= posted["meta"]["original"]["duration"] <= 1.2
    # No cover art: no preview to show.
    assert posted["preview_url"] is None and "small" not in posted["meta"] and posted["blurhash"] is None
    got = probe((await asyncio.to_thread(fetch, posted["url"])).content)
    assert (got["audio"], got["video"]) == (codec, None)


async def test_an_mp3_cover_becomes_the_preview(server: Running, tmp_path: Path) -> None:
    token = await server.token("alice")
    path = avsamples.mp3(tmp_path / "covered.mp3", cover=(300, 300))

    def upload() -> dict:
        # Mastodon.py's own wait: it polls until the file has a URL.
        return client(server, token).media_post(str(path), synchronous=True)

    posted = await asyncio.to_thread(upload)
    assert posted["type"] == "audio" and posted["preview_url"].endswith("/small.png")
    assert posted["meta"]["small"]["width"] == 300 and len(posted["blurhash"]) == 36
    got = probe((await asyncio.to_thread(fetch, posted["url"])).content)
    assert (got["audio"], got["video"]) == ("mp3", None)


async def test_an_animated_gif_becomes_gifv_and_a_still_gif_stays_an_image(server: Running, tmp_path: Path,
                                                                            http: aiohttp.ClientSession) -> None:
    token = await server.token("alice")
    moving = await uploaded(http, server, token, images.animated_gif(tmp_path / "moving.gif", 81, 61, frames=5))
    stays = await uploaded(http, server, token, images.gif(tmp_path / "still.gif", 80, 60))
    assert moving["type"] == "gifv" and moving["url"].endswith("/original.mp4")
    assert (moving["meta"]["original"]["width"], moving["meta"]["original"]["height"]) == (80, 60)
    got = probe((await asyncio.to_thread(fetch, moving["url"])).content)
    assert (got["video"], got["audio"], got["size"], got["frames"]) == ("h264", None, (80, 60), 5)
    assert stays["type"] == "image" and stays["url"].endswith(".png")


async def test_video_refusals_speak_mastodons_words(server: Running, tmp_path: Path) -> None:
    token = await server.token("alice")
    fast = avsamples.h264_mp4(tmp_path / "fast.mp4", rate=240, frames=24, audio=None)
    zip_bytes = tmp_path / "archive.mp4"
    zip_bytes.write_bytes(b"PK\x03\x04" + bytes(2000))

    def refusals() -> list[str]:
        api = client(server, token)
        said = []
        for path in (fast, zip_bytes):
            with pytest.raises(MastodonAPIError) as caught:
                api.media_post(str(path), mime_type="video/mp4")
            said.append(str(caught.value))
        return said

    said = await asyncio.to_thread(refusals)
    assert "240fps videos are not supported" in said[0]
    assert "File type of uploaded media could not be verified" in said[1]


async def test_a_thumbnail_for_an_image_is_still_refused(server: Running, tmp_path: Path,
                                                        http: aiohttp.ClientSession) -> None:
    token = await server.token("alice")
    photo = images.png(tmp_path / "p.png", 40, 30).read_bytes()
    form = aiohttp.FormData()
    form.add_field("file", photo, filename="p.png", content_type="image/png")
    form.add_field("thumbnail", photo, filename="t.png", content_type="image/png")
    async with http.post(f"{server.url}/api/v2/media", data=form, headers=bearer(token)) as r:
        assert r.status == 422
        assert await r.json() == {"error": "Validation failed: Thumbnail must be blank"}


async def test_a_20_mb_video_does_not_delay_an_image_behind_it(server: Running, tmp_path: Path,
                                                               http: aiohttp.ClientSession) -> None:
    token = await server.token("alice")
    # About 20 MB of 4:4:4 H.264 at 720p: transcoded, seconds of work on the video lane...
    big = avsamples.video(tmp_path / "big.mp4", width=1280, height=720, frames=120, rate=30, pix_fmt="yuv444p",
                          codec_options={"preset": "ultrafast", "crf": "8"}, audio=None)
    assert big.stat().st_size > 15_000_000
    photo = images.jpeg(tmp_path / "after.jpg", 200, 150).read_bytes()
    form = aiohttp.FormData()
    form.add_field("file", big.read_bytes(), filename="big.mp4", content_type="video/mp4")
    async with http.post(f"{server.url}/api/v2/media", data=form, headers=bearer(token)) as r:
        assert r.status == 202
        video = await r.json()
    # ...while the image lane answers the photo uploaded after it within v2's own wait.
    form = aiohttp.FormData()
    form.add_field("file", photo, filename="after.jpg", content_type="image/jpeg")
    async with http.post(f"{server.url}/api/v2/media", data=form, headers=bearer(token)) as r:
        assert r.status == 200, await r.text()
        image = await r.json()
    done = await uploaded_outcomes(server, video["id"], image["id"])
    # The photo's outcome is in the log before the video's: it never queued behind the transcode.
    assert done[image["id"]] < done[video["id"]]


async def uploaded_outcomes(server: Running, *media_ids: str, timeout: float = 120) -> dict[str, int]:
    """The stream sequence of each media's outcome, once all are in the log."""
    deadline = time.monotonic() + timeout
    while True:
        found = {}
        async for record in server.events.read(1, follow=False):
            event = record.event
            if isinstance(event, MediaProcessed | MediaFailed) and event.media_id in media_ids:
                found[event.media_id] = record.seq
        if len(found) == len(media_ids):
            return found
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)


async def test_pump_io_clients_post_video_and_audio_objects(server: Running, tmp_path: Path) -> None:
    alice = await login(server, "alice")
    clip = avsamples.h264_mp4(tmp_path / "clip.mp4").read_bytes()
    uploaded = await alice.upload(clip, "video/mp4")
    assert uploaded.status == 200, uploaded.json
    video = uploaded.json
    assert video["objectType"] == "video" and "/api/video/" in video["id"]
    assert video["stream"]["url"].endswith("/original.mp4") and video["stream"]["width"] == 96
    assert video["image"]["url"].endswith("/thumb.png") and "fullImage" not in video
    posted = await alice.activity("post", video, to=[], cc=[])
    assert posted.status == 200, posted.json
    assert posted.json["object"]["objectType"] == "video" and posted.json["content"] == "alice posted a video"
    fetched = await alice.get(video["id"])
    assert fetched.status == 200 and fetched.json["stream"] == video["stream"]
    # A video is not found as an image.
    assert (await alice.get(video["id"].replace("/api/video/", "/api/image/"))).status == 404

    tone = avsamples.audio(tmp_path / "tone.flac", format="flac", codec="flac").read_bytes()
    sound = await alice.upload(tone, "audio/flac")
    assert sound.status == 200, sound.json
    assert sound.json["objectType"] == "audio" and sound.json["stream"]["url"].endswith("/original.mp3")
    assert "image" not in sound.json
    comment = await alice.activity("post", {"objectType": "comment", "content": "nice",
                                            "inReplyTo": {"id": video["id"], "objectType": "video"}})
    assert comment.status == 200, comment.json


async def test_presigned_grants_take_video_only_where_the_operator_allows(make_server: Servers,
                                                                         http: aiohttp.ClientSession) -> None:
    request = {"filename": "clip.mp4", "contentType": "video/mp4"}
    closed = await make_server(processor=False)
    token = await closed.token("alice")
    async with http.post(f"{closed.url}/media", json=request, headers=bearer(token)) as r:
        assert r.status == 415 and (await r.json())["code"] == "unsupported_media_type"
    opened = await make_server(processor=False, presigned_av=True)
    token = await opened.token("alice")
    async with http.post(f"{opened.url}/media", json=request, headers=bearer(token)) as r:
        assert r.status == 200, await r.text()
        granted = await r.json()
    async with http.get(f"{opened.url}/media/{granted['media']['id']}", headers=bearer(token)) as r:
        assert (await r.json())["kind"] == "video"


async def test_mastodon_py_sends_a_custom_thumbnail_and_replaces_it(server: Running, tmp_path: Path) -> None:
    token = await server.token("alice")
    clip = avsamples.h264_mp4(tmp_path / "clip.mp4")
    cover = images.png(tmp_path / "cover.png", 1280, 720, seed=3)
    other = images.jpeg(tmp_path / "other.jpg", 400, 400, seed=5)
    tone = avsamples.mp3(tmp_path / "tone.mp3")

    def use_the_client() -> tuple[dict, dict, dict, dict]:
        api = client(server, token)
        posted = api.media_post(str(clip), synchronous=True, thumbnail=str(cover))
        replaced = api.media_update(posted, thumbnail=str(other))
        sound = api.media_post(str(tone), synchronous=True)
        covered = api.media_update(sound, thumbnail=str(cover))
        return posted, replaced, sound, covered

    posted, replaced, sound, covered = await asyncio.to_thread(use_the_client)
    # The custom preview is processed as Mastodon's small style: 230,400 px, 640x360 for 16:9.
    assert (posted["meta"]["small"]["width"], posted["meta"]["small"]["height"]) == (640, 360)
    assert posted["preview_url"].endswith("/small.png") and "/v" in posted["preview_url"]
    assert posted["url"].endswith("/original.mp4")
    # Never scaled up: a 400x400 image is its own small.
    assert (replaced["meta"]["small"]["width"], replaced["meta"]["small"]["height"]) == (400, 400)
    assert replaced["preview_url"].endswith("/small.jpg") and replaced["blurhash"] != posted["blurhash"]
    assert replaced["url"] == posted["url"]
    assert sound["preview_url"] is None and covered["preview_url"].endswith("/small.png")
    assert covered["blurhash"] == posted["blurhash"]
    preview = await asyncio.to_thread(fetch, replaced["preview_url"])
    assert preview.status_code == 200 and preview.headers["Content-Type"] == "image/jpeg"


async def test_thumbnails_are_refused_where_mastodon_refuses_them(server: Running, tmp_path: Path,
                                                                   http: aiohttp.ClientSession) -> None:
    token = await server.token("alice")
    cover = images.png(tmp_path / "cover.png", 64, 36).read_bytes()
    moving = await uploaded(http, server, token, images.animated_gif(tmp_path / "m.gif", 40, 30, frames=3))
    clip = avsamples.h264_mp4(tmp_path / "clip.mp4").read_bytes()
    before = sorted(p.name for p in server.config.blobs.rglob("*") if p.is_file())

    async def put(media_id: str, thumbnail: bytes) -> tuple[int, Any]:
        form = aiohttp.FormData()
        form.add_field("thumbnail", thumbnail, filename="t.png", content_type="image/png")
        async with http.put(f"{server.url}/api/v1/media/{media_id}", data=form, headers=bearer(token)) as r:
            return r.status, await r.json()

    # An animated GIF is shown as it is; a thumbnail must be an image.
    assert await put(moving["id"], cover) == (422, {"error": "Validation failed: Thumbnail must be blank"})
    form = aiohttp.FormData()
    form.add_field("file", clip, filename="clip.mp4", content_type="video/mp4")
    form.add_field("thumbnail", clip, filename="t.mp4", content_type="video/mp4")
    async with http.post(f"{server.url}/api/v2/media", data=form, headers=bearer(token)) as r:
        assert (r.status, await r.json()) == (
            422, {"error": "Validation failed: Thumbnail content type is invalid, Thumbnail is invalid"})
    form = aiohttp.FormData()
    form.add_field("file", clip, filename="clip.mp4", content_type="video/mp4")
    form.add_field("thumbnail", b"not an image at all", filename="t.png", content_type="image/png")
    async with http.post(f"{server.url}/api/v2/media", data=form, headers=bearer(token)) as r:
        assert r.status == 422
    # Nothing refused left a blob behind.
    assert sorted(p.name for p in server.config.blobs.rglob("*") if p.is_file()) == before


async def test_each_kind_has_its_own_size_limit_read_from_the_first_bytes(server: Running,
                                                                          http: aiohttp.ClientSession) -> None:
    token = await server.token("alice")
    mp4_head = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
    before = sorted(p for p in server.config.blobs.rglob("*") if p.is_file())

    async def chunked(head: bytes, mib: int) -> AsyncIterator[bytes]:
        yield head
        for _ in range(mib):
            yield b"\0" * (1024 * 1024)

    async def post(head: bytes, mib: int) -> tuple[int, Any]:
        form = aiohttp.FormData()
        form.add_field("file", chunked(head, mib), filename="big.mp4", content_type="video/mp4")
        async with http.post(f"{server.url}/api/v2/media", data=form, headers=bearer(token)) as r:
            return r.status, await r.json()

    # A video container past 99 MiB is cut off at the video cap...
    assert await post(mp4_head, 100) == (422, {"error": "Validation failed: File must be less than 99 MB"})
    # ...one of 17 MiB is past the image cap but not the video one: refused for its bytes, not its size.
    status, body = await post(mp4_head, 17)
    assert status == 422 and "less than" not in body["error"]
    # An image is held to the image cap even so.
    assert await post(b"\xff\xd8\xff", 17) == (422, {"error": "Validation failed: File must be less than 16 MB"})
    assert sorted(p for p in server.config.blobs.rglob("*") if p.is_file()) == before


@pytest.mark.parametrize(("name", "make"), [
    ("hevc.mov", lambda p: avsamples.hevc_mov(p)),
    ("prores.mov", lambda p: avsamples.prores_mov(p)),
    ("odd.mp4", lambda p: avsamples.h264_mp4(p, width=99, height=67, pix_fmt="yuv444p")),
    ("full-chroma.mp4", lambda p: avsamples.h264_mp4(p, pix_fmt="yuv444p")),
])
async def test_other_videos_are_transcoded_to_h264_mp4(server: Running, tmp_path: Path, http: aiohttp.ClientSession,
                                                        name: str, make: Any) -> None:
    token = await server.token("alice")
    source = make(tmp_path / name)
    posted = await uploaded(http, server, token, source)
    assert posted["type"] == "video" and posted["url"].endswith("/original.mp4")
    got = probe((await asyncio.to_thread(fetch, posted["url"])).content)
    assert (got["format"].split(",")[0], got["video"], got["pix_fmt"]) == ("mov", "h264", "yuv420p")
    width, height = got["size"]
    assert width % 2 == 0 and height % 2 == 0
    assert (posted["meta"]["original"]["width"], posted["meta"]["original"]["height"]) == (width, height)
    # A transcode, never the source's stream bytes.
    assert video_packets((await asyncio.to_thread(fetch, posted["url"])).content) != video_packets(source.read_bytes())


async def test_v1_waits_for_a_video_and_v2_shows_a_custom_preview_at_once(server: Running, tmp_path: Path,
                                                                          http: aiohttp.ClientSession) -> None:
    token = await server.token("alice")
    clip = avsamples.h264_mp4(tmp_path / "clip.mp4").read_bytes()
    cover = images.png(tmp_path / "cover.png", 320, 180).read_bytes()
    form = aiohttp.FormData()
    form.add_field("file", clip, filename="clip.mp4", content_type="video/mp4")
    async with http.post(f"{server.url}/api/v1/media", data=form, headers=bearer(token)) as r:
        assert r.status == 200
        waited = await r.json()
    assert waited["type"] == "video" and waited["url"].endswith("/original.mp4")
    form = aiohttp.FormData()
    # Other bytes, so that processing has a job to do after the answer.
    form.add_field("file", avsamples.vp9_webm(tmp_path / "other.webm").read_bytes(), filename="o.webm",
                   content_type="video/webm")
    form.add_field("thumbnail", cover, filename="cover.png", content_type="image/png")
    async with http.post(f"{server.url}/api/v2/media", data=form, headers=bearer(token)) as r:
        assert r.status == 202
        early = await r.json()
    assert early["url"] is None and early["preview_url"].endswith("/small.png")
    assert early["meta"]["small"]["width"] == 320 and len(early["blurhash"]) == 36
