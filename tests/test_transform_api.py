"""Image transformations over real HTTP: real server, broker, libvips; outputs decoded with libvips."""

from __future__ import annotations

import asyncio
import io

import aiohttp
import msgspec
import pytest
import pyvips
import yarl
from multidict import CIMultiDict

from gateways.transform.routes import canonical_url
from tests import images
from tests.servers import Running


class Uploaded(msgspec.Struct, frozen=True):
    media_id: str
    token: str
    url: str
    blob: str

    @property
    def canonical(self) -> str:
        return canonical_url(self.url.split("/media/files/")[0], self.blob)


def bands(width: int, height: int, colours: list[tuple[int, int, int]], *, across: bool = True) -> bytes:
    """A JPEG cut into equal bands of flat colour, left to right (or top to bottom)."""
    count = len(colours)
    step = (width if across else height) // count
    pieces = [
        (pyvips.Image.black(step if across else width, height if across else step, bands=3) + list(rgb))
        for rgb in colours
    ]
    joined = pyvips.Image.arrayjoin(pieces, across=count if across else 1)
    data: bytes = joined.cast("uchar").copy(interpretation="srgb").jpegsave_buffer(Q=95)
    return data


RED, GREEN, BLUE, YELLOW = (230, 20, 20), (20, 200, 20), (20, 20, 230), (230, 230, 20)
STRIPES = [RED, GREEN, BLUE, YELLOW]


def gradient(width: int, height: int) -> bytes:
    xyz = pyvips.Image.xyz(width, height)
    image = (xyz[0] * 255 / width).bandjoin([xyz[1] * 255 / height, (xyz[0] + xyz[1]) % 256])
    data: bytes = image.cast("uchar").copy(interpretation="srgb").jpegsave_buffer(Q=90)
    return data


async def upload(http: aiohttp.ClientSession, server: Running, data: bytes, user: str = "alice",
                 **fields: str) -> Uploaded:
    token = await server.token(user)
    body = aiohttp.FormData()
    for name, value in fields.items():
        body.add_field(name, value)
    body.add_field("file", io.BytesIO(data), filename="in.jpg", content_type="image/jpeg")
    async with http.post(f"{server.url}/api/v1/media", data=body,
                         headers={"Authorization": f"Bearer {token}"}) as response:
        assert response.status == 200, await response.text()
        media = await response.json()
    url = media["url"]
    blob = url.split("/media/files/")[1].split("/")[0]
    return Uploaded(media_id=media["id"], token=token, url=url, blob=blob)


@pytest.fixture(scope="module")
def server(shared_server: Running) -> Running:
    return shared_server


@pytest.fixture(scope="module")
def http(shared_http: aiohttp.ClientSession) -> aiohttp.ClientSession:
    return shared_http


@pytest.fixture(scope="module")
async def photo(server: Running, http: aiohttp.ClientSession) -> Uploaded:
    """A 640x480 photo, whose original rendition is 640x480 too."""
    return await upload(http, server, gradient(640, 480))


def renders(server: Running) -> int:
    assert server.server.variants is not None
    return server.server.variants.renders


async def fetch(http: aiohttp.ClientSession, url: str, **headers: str) -> tuple[int, CIMultiDict[str], bytes]:
    async with http.get(url, headers=headers) as response:
        return response.status, response.headers.copy(), await response.read()


async def image_at(http: aiohttp.ClientSession, url: str, **headers: str) -> tuple[pyvips.Image, CIMultiDict[str]]:
    status, got, body = await fetch(http, url, **headers)
    assert status == 200, body
    return pyvips.Image.new_from_buffer(body, ""), got


@pytest.mark.parametrize(("query", "size"), [
    ("w=320", (320, 240)),
    ("h=120", (160, 120)),
    ("w=200&h=200", (200, 150)),
    ("w=200&h=200&fit=clip", (200, 150)),
    ("w=1280&h=1280", (1280, 960)),
    ("w=1280&fit=max", (640, 480)),
    ("w=320&h=320&fit=max", (320, 240)),
    ("w=200&h=200&fit=crop", (200, 200)),
    ("w=50&h=300&fit=crop", (50, 300)),
    ("w=1000&h=500&fit=min", (640, 320)),
    ("w=100&h=50&fit=min", (100, 50)),
    ("w=300&h=100&fit=scale", (300, 100)),
    ("w=100&h=100&fit=crop&dpr=2", (200, 200)),
    ("w=160&dpr=1.5", (240, 180)),
    ("w=100&h=100&fit=crop&crop=entropy", (100, 100)),
    ("w=100&h=100&fit=crop&crop=edges", (100, 100)),
    ("w=100&h=100&fit=crop&crop=bottom,right", (100, 100)),
])
async def test_sizes_of_every_fit_mode_on_both_urls(server: Running, http: aiohttp.ClientSession, photo: Uploaded,
                                                  query: str, size: tuple[int, int]) -> None:
    for base in (photo.url, photo.canonical):
        image, headers = await image_at(http, f"{base}?{query}")
        assert (image.width, image.height) == size
        assert headers["Content-Type"] == "image/jpeg"
        assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert "Vary" not in headers


async def test_small_and_thumb_renditions_transform_too(server: Running, http: aiohttp.ClientSession,
                                                        photo: Uploaded) -> None:
    small = photo.url.replace("/original.", "/small.")
    image, _ = await image_at(http, f"{small}?w=1000&fit=max")
    assert (image.width, image.height) == (554, 416)
    thumb = photo.url.replace("/original.", "/thumb.")
    image, _ = await image_at(http, f"{thumb}?w=80&fm=png")
    assert (image.width, image.height, image.get("vips-loader")) == (80, 60, "pngload_buffer")


@pytest.mark.parametrize(("fm", "content_type", "loader"), [
    ("jpg", "image/jpeg", "jpegload_buffer"),
    ("png", "image/png", "pngload_buffer"),
    ("webp", "image/webp", "webpload_buffer"),
    ("avif", "image/avif", "heifload_buffer"),
])
async def test_output_formats(server: Running, http: aiohttp.ClientSession, photo: Uploaded,
                              fm: str, content_type: str, loader: str) -> None:
    image, headers = await image_at(http, f"{photo.canonical}?w=64&fm={fm}")
    assert headers["Content-Type"] == content_type
    assert image.get("vips-loader") == loader
    assert (image.width, image.height) == (64, 48)


async def test_auto_format_follows_accept_and_varies(server: Running, http: aiohttp.ClientSession,
                                                     photo: Uploaded) -> None:
    url = f"{photo.url}?w=64&auto=format"
    for accept, content_type in [
        ("image/avif,image/webp,image/*,*/*;q=0.8", "image/avif"),
        ("image/webp,*/*", "image/webp"),
        ("image/avif;q=0,image/webp", "image/webp"),
        ("*/*", "image/jpeg"),
    ]:
        image, headers = await image_at(http, url, Accept=accept)
        assert headers["Content-Type"] == content_type, accept
        assert headers["Vary"] == "Accept"
        assert (image.width, image.height) == (64, 48)
    # Different bytes under one URL: each has its own tag.
    _, avif, _ = await fetch(http, url, Accept="image/avif")
    _, webp, _ = await fetch(http, url, Accept="image/webp")
    assert avif["ETag"] != webp["ETag"]
    # An explicit format wins, and then the answer no longer depends on Accept.
    _, headers = await image_at(http, f"{photo.url}?w=64&auto=format&fm=png", Accept="image/avif")
    assert headers["Content-Type"] == "image/png" and "Vary" not in headers


async def test_quality_and_compress_change_the_size(server: Running, http: aiohttp.ClientSession,
                                                    photo: Uploaded) -> None:
    sizes = {}
    for query in ("w=400&q=10", "w=400&q=90", "w=400", "w=400&auto=compress", "w=400&fm=webp&q=10",
                  "w=400&fm=webp&q=90"):
        _, _, body = await fetch(http, f"{photo.url}?{query}")
        sizes[query] = len(body)
    assert sizes["w=400&q=10"] < sizes["w=400"] < sizes["w=400&q=90"]
    assert sizes["w=400&auto=compress"] < sizes["w=400"]
    assert sizes["w=400&fm=webp&q=10"] < sizes["w=400&fm=webp&q=90"]


def colour_at(image: pyvips.Image, x: int, y: int) -> tuple[int, int, int]:
    red, green, blue = image.getpoint(x, y)[:3]
    return round(red), round(green), round(blue)


def near(got: tuple[int, int, int], want: tuple[int, int, int]) -> bool:
    return all(abs(a - b) < 40 for a, b in zip(got, want, strict=True))


async def test_focal_point_crop_picks_the_region(server: Running, http: aiohttp.ClientSession) -> None:
    # 1200x300 in four 300-wide stripes; a 100x100 crop covers a 400x100 scaled copy.
    stripes = await upload(http, server, bands(1200, 300, STRIPES))
    box = "w=100&h=100&fit=crop&fm=png"
    for fp_x, colour in ((0.125, RED), (0.375, GREEN), (0.625, BLUE), (0.875, YELLOW), (0.0, RED), (1.0, YELLOW)):
        image, headers = await image_at(http, f"{stripes.canonical}?{box}&crop=focalpoint&fp-x={fp_x}")
        assert (image.width, image.height) == (100, 100)
        assert near(colour_at(image, 50, 50), colour), (fp_x, colour_at(image, 50, 50))
        assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    image, _ = await image_at(http, f"{stripes.canonical}?{box}&crop=left")
    assert near(colour_at(image, 50, 50), RED)
    image, _ = await image_at(http, f"{stripes.canonical}?{box}&crop=right")
    assert near(colour_at(image, 50, 50), YELLOW)


async def test_focal_point_defaults_to_the_mastodon_focus(server: Running, http: aiohttp.ClientSession) -> None:
    stripes = await upload(http, server, bands(1200, 300, STRIPES, across=True), focus="0.75,0")
    url = f"{stripes.canonical}?w=100&h=100&fit=crop&crop=focalpoint&fm=png"
    image, first = await image_at(http, url)
    assert near(colour_at(image, 50, 50), YELLOW)
    # The media's focus can change under this URL, so caches must ask again; the ETag makes that cheap.
    assert first["Cache-Control"] == "public, no-cache"
    status, again, body = await fetch(http, url, **{"If-None-Match": first["ETag"]})
    assert status == 304 and body == b"" and again["Cache-Control"] == "public, no-cache"

    media = f"{server.url}/api/v1/media/{stripes.media_id}"
    async with http.put(media, data={"focus": "-0.75,0.2"},
                        headers={"Authorization": f"Bearer {stripes.token}"}) as response:
        assert response.status == 200
    image, moved = await image_at(http, url, **{"If-None-Match": first["ETag"]})
    assert near(colour_at(image, 50, 50), RED)
    assert moved["ETag"] != first["ETag"]

    # Mastodon's y points up: a focus near the top (y=0.75) is fp-y 0.125, the first band from the top.
    tall = await upload(http, server, bands(300, 1200, STRIPES, across=False), focus="0,0.75")
    image, _ = await image_at(http, f"{tall.url}?w=100&h=100&fit=crop&crop=focalpoint&fm=png")
    assert near(colour_at(image, 50, 50), RED)
    async with http.put(f"{server.url}/api/v1/media/{tall.media_id}", data={"focus": "0,-0.75"},
                        headers={"Authorization": f"Bearer {tall.token}"}) as response:
        assert response.status == 200
    image, _ = await image_at(http, f"{tall.url}?w=100&h=100&fit=crop&crop=focalpoint&fm=png")
    assert near(colour_at(image, 50, 50), YELLOW)


async def test_etag_304_and_head(server: Running, http: aiohttp.ClientSession, photo: Uploaded) -> None:
    url = f"{photo.canonical}?w=123&fm=webp"
    status, headers, body = await fetch(http, url)
    assert status == 200
    etag = headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    for match in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        status, again, empty = await fetch(http, url, **{"If-None-Match": match})
        assert status == 304 and empty == b""
        assert again["ETag"] == etag and again["Cache-Control"] == headers["Cache-Control"]
    status, _, same = await fetch(http, url, **{"If-None-Match": '"something-else"'})
    assert status == 200 and same == body
    async with http.head(url) as response:
        assert response.status == 200
        assert response.headers["ETag"] == etag
        assert response.headers["Content-Type"] == "image/webp"
        assert int(response.headers["Content-Length"]) == len(body)
        assert await response.read() == b""
    async with http.head(photo.canonical) as response:
        assert response.status == 200 and response.headers["Content-Type"] == "image/jpeg"
    # The same parameters on another source are another variant.
    _, other, _ = await fetch(http, f"{photo.url.replace('/original.', '/small.')}?w=123&fm=webp")
    assert other["ETag"] != etag


async def test_cache_hits_serve_the_same_bytes_without_rendering(server: Running, http: aiohttp.ClientSession,
                                                                 photo: Uploaded) -> None:
    variants = server.config.variants / photo.blob[:2] / photo.blob
    before = renders(server)
    status, first_headers, first = await fetch(http, f"{photo.url}?w=80&h=56&fit=scale")
    assert status == 200 and renders(server) == before + 1
    # The file is written once the answer has gone.
    assert server.server.variants is not None
    await server.server.variants.written()
    files = sorted(variants.iterdir())
    # Other spellings of the same variant: order, defaults spelled out, dpr folded, ignored names.
    for query in ("w=80&h=56&fit=scale", "fit=scale&h=56&w=80", "w=80&h=56&fit=scale&q=75&utm_source=x",
                  "w=40&h=28&dpr=2&fit=scale", "w=80&h=56&fit=scale&crop=entropy&fp-x=0.3"):
        status, headers, again = await fetch(http, f"{photo.url}?{query}")
        assert status == 200 and again == first and headers["ETag"] == first_headers["ETag"], query
    assert renders(server) == before + 1
    assert sorted(variants.iterdir()) == files
    assert not [path for path in variants.iterdir() if path.name.startswith(".")]


async def test_concurrent_requests_for_one_new_variant_render_it_once(server: Running, http: aiohttp.ClientSession,
                                                                      photo: Uploaded) -> None:
    before = renders(server)
    url = f"{photo.canonical}?w=1500&h=1100&fit=scale&fm=avif"
    answers = await asyncio.gather(*(fetch(http, url) for _ in range(8)))
    assert {status for status, _, _ in answers} == {200}
    assert len({body for _, _, body in answers}) == 1
    assert renders(server) == before + 1


async def test_unknown_parameters_alone_give_the_file(server: Running, http: aiohttp.ClientSession,
                                                      photo: Uploaded) -> None:
    _, plain_headers, plain = await fetch(http, photo.url)
    before = renders(server)
    status, headers, body = await fetch(http, f"{photo.url}?utm_source=feed&v=3")
    assert status == 200 and body == plain
    assert headers["Cache-Control"] == plain_headers["Cache-Control"]
    _, _, canonical = await fetch(http, photo.canonical)
    assert canonical == plain
    assert renders(server) == before


@pytest.mark.parametrize(("query", "parameter"), [
    ("w=0", "w"), ("w=8193", "w"), ("w=abc", "w"), ("h=-1", "h"), ("h=1.5", "h"), ("fit=fill", "fit"),
    ("crop=faces", "crop"), ("fp-x=1.5", "fp-x"), ("fp-y=-0.1", "fp-y"), ("q=101", "q"), ("q=x", "q"),
    ("dpr=0", "dpr"), ("dpr=6", "dpr"), ("fm=gif", "fm"), ("fm=", "fm"), ("auto=enhance", "auto"),
    ("w=10&w=20", "w"), ("s=abc", "s"),
])
async def test_bad_parameters_are_400_naming_them(server: Running, http: aiohttp.ClientSession, photo: Uploaded,
                                                  query: str, parameter: str) -> None:
    for base in (photo.url, photo.canonical):
        async with http.get(f"{base}?{query}") as response:
            assert response.status == 400
            body = await response.json()
        assert body["code"] == "invalid_parameter" and body["parameter"] == parameter
        assert body["error"]


async def test_paths_cannot_escape(server: Running, http: aiohttp.ClientSession, photo: Uploaded) -> None:
    blob = photo.blob
    paths = [
        f"/media/sha256/{blob[:-1]}",
        f"/media/sha256/{blob.upper()}",
        f"/media/sha256/{'0' * 64}",
        "/media/sha256/..",
        "/media/sha256/%2e%2e",
        "/media/sha256/..%2f..%2fetc%2fpasswd",
        "/media/sha256/%2e%2e%2f%2e%2e%2fblobs",
        f"/media/files/{blob}/v2/..%2f..%2f..%2fblobs",
        f"/media/files/{blob}/v2/%2e%2e",
        f"/media/files/{blob}/v2/original.jpg%00.png",
        f"/media/files/{blob}/v2/secret.jpg",
        f"/media/files/..%2f{blob}/v2/original.jpg",
        f"/media/files/{blob}/v9/original.jpg",
        "/media/files/../../etc/passwd",
    ]
    for path in paths:
        for query in ("", "?w=10"):
            url = yarl.URL(server.url + path + query, encoded=True)
            async with http.get(url) as response:
                assert response.status in (400, 404), path
                assert response.content_type == "application/json", path
                assert "error" in await response.json()


async def test_content_address_needs_a_media_that_names_the_blob(server: Running, http: aiohttp.ClientSession
                                                                  ) -> None:
    media = await upload(http, server, gradient(320, 200), user="bob")
    status, headers, body = await fetch(http, media.canonical)
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    _, _, original = await fetch(http, media.url)
    assert body == original
    async with http.delete(f"{server.url}/api/v1/media/{media.media_id}",
                           headers={"Authorization": f"Bearer {media.token}"}) as response:
        assert response.status == 200
    for url in (media.canonical, f"{media.canonical}?w=10"):
        async with http.get(url) as response:
            assert response.status == 404
            assert (await response.json())["code"] == "not_found"


async def test_missing_renditions_come_back_for_transformations(server: Running, http: aiohttp.ClientSession
                                                                ) -> None:
    media = await upload(http, server, gradient(300, 300), user="carol")
    renditions = server.config.renditions / media.blob[:2] / media.blob
    for path in sorted(renditions.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    image, _ = await image_at(http, f"{media.canonical}?w=30")
    assert (image.width, image.height) == (30, 30)
    image, _ = await image_at(http, f"{media.url.replace('/original.', '/thumb.')}?w=20")
    assert (image.width, image.height) == (20, 20)


async def test_gif_and_transparent_png_sources(server: Running, http: aiohttp.ClientSession, tmp_path_factory:
                                               pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("sources")
    still = await upload(http, server, images.gif(folder / "s.gif", 120, 90).read_bytes())
    assert still.url.endswith("/original.png")
    # An animated GIF is played as the MP4 it became: transformations start from its preview, a still.
    animated = await upload(http, server, images.animated_gif(folder / "a.gif", 120, 90, frames=3).read_bytes())
    assert animated.url.endswith("/original.mp4")
    image, headers = await image_at(http, f"{animated.url.replace('/original.mp4', '/small.png')}?w=60")
    assert headers["Content-Type"] == "image/png" and (image.width, image.height) == (60, 45)
    # The video itself is served as it is, whatever the query asks of an image.
    status, headers, body = await fetch(http, f"{animated.canonical}?w=60")
    assert (status, headers["Content-Type"]) == (200, "video/mp4") and body[4:8] == b"ftyp"
    transparent = await upload(http, server, images.png(folder / "t.png", 200, 100, alpha=True).read_bytes())
    image, headers = await image_at(http, f"{transparent.url}?w=50")
    assert headers["Content-Type"] == "image/png" and image.bands == 4
    # JPEG has no alpha channel: the image is put on white.
    image, headers = await image_at(http, f"{transparent.url}?w=50&fm=jpg")
    assert headers["Content-Type"] == "image/jpeg" and image.bands == 3


async def test_rendering_does_not_hold_up_other_requests(server: Running, http: aiohttp.ClientSession,
                                                         photo: Uploaded) -> None:
    slow = asyncio.ensure_future(fetch(http, f"{photo.canonical}?w=4000&h=3000&fit=scale&fm=webp&q=91"))
    await asyncio.sleep(0.1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    for _ in range(5):
        async with http.get(f"{server.url}/healthz") as response:
            assert response.status == 200
    answered = loop.time() - started
    assert not slow.done()
    status, _, body = await slow
    assert status == 200 and len(body) > 0
    assert answered < 0.5, answered


@pytest.mark.parametrize(("query", "size"), [
    ("h=2000", (8192, 41)),
    ("w=100000", None),
    ("h=500&fit=scale", (8192, 41)),
    ("w=4000&h=500&fit=scale", (4000, 500)),
    ("w=2000&h=2000&fit=crop", (2000, 2000)),
    ("w=8192&h=8192&fit=crop&crop=entropy", (8192, 8192)),
    ("w=300&h=4000&fit=crop&crop=left&fm=png", (300, 4000)),
])
async def test_a_panorama_never_renders_a_side_past_the_maximum(
    server: Running, http: aiohttp.ClientSession, query: str, size: tuple[int, int] | None
) -> None:
    # A 4000x20 strip asked for h=2000 once came out 400000 wide, which no encoder takes: a 500.
    strip = await upload(http, server, bands(4000, 20, STRIPES), user="panorama")
    if size is None:
        status, _, body = await fetch(http, f"{strip.url}?{query}")
        assert status == 400 and msgspec.json.decode(body)["parameter"] == "w"
        return
    image, _ = await image_at(http, f"{strip.url}?{query}")
    assert (image.width, image.height) == size
    assert max(image.width, image.height) <= 8192


async def test_a_cached_variant_answers_range_requests_as_files_do(server: Running, http: aiohttp.ClientSession,
                                                                   photo: Uploaded) -> None:
    url = f"{photo.url}?w=300"
    status, headers, whole = await fetch(http, url)
    assert status == 200 and headers["Accept-Ranges"] == "bytes"
    status, headers, part = await fetch(http, url, Range="bytes=10-99")
    assert (status, part, headers["Content-Range"]) == (206, whole[10:100], f"bytes 10-99/{len(whole)}")
    status, headers, part = await fetch(http, url, Range="bytes=-5")
    assert (status, part) == (206, whole[-5:])
    status, headers, part = await fetch(http, url, Range=f"bytes={len(whole)}-")
    assert (status, headers["Content-Range"]) == (416, f"bytes */{len(whole)}")
    # Several ranges, another unit, a range the entity tag no longer validates: the whole variant.
    for asked in ({"Range": "bytes=0-1,5-6"}, {"Range": "items=0-1"},
                  {"Range": "bytes=0-1", "If-Range": '"another"'}):
        status, _, body = await fetch(http, url, **asked)
        assert (status, body) == (200, whole), asked
    status, _, part = await fetch(http, url, Range="bytes=0-1", **{"If-Range": headers["ETag"]})
    assert (status, part) == (206, whole[:2])
