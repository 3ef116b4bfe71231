"""The gallery's pages over real HTTP: what each viewer sees, pictures sized for the screen, and user text
always rendered as text."""

from __future__ import annotations

import re
import time
from pathlib import Path

import aiohttp
import pytest
import pyvips

from store.queries.gallery import public_media, users_media
from tests import avsamples, images
from tests.servers import Running
from tests.test_mastodon_statuses import status
from tests.test_posts import Api, api
from tests.test_pumpio_collections import add, album, local
from tests.test_pumpio_feed import login, posted_image
from tests.test_web_console import jar, strict_html
from tests.test_web_signin import signed_in

pytestmark = [pytest.mark.asyncio, pytest.mark.server(users={"ada": "ada-password", "bob": "bob-password"})]


async def page(http: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with http.get(url) as answer:
        text = await answer.text()
        if answer.status == 200:
            assert answer.headers["Content-Type"].startswith("text/html")
            strict_html(text)
        return answer.status, text


async def posted(user: Api, tmp_path: Path, seed: int, text: str = "", **upload: object) -> str:
    """An image `user` uploaded and posted publicly."""
    media = await user.uploaded(tmp_path, seed=seed, **upload)  # type: ignore[arg-type]
    answer = await status(user, text or f"picture {seed}", [media], visibility="public")
    assert answer.status == 200, answer.json
    return media


async def described(user: Api, media: str, description: str) -> None:
    answer = await user.call("PUT", f"/api/v1/media/{media}", json={"description": description})
    assert answer.status == 200, answer.json


async def posted_played(user: Api, path: Path, content_type: str) -> str:
    """A video or audio file `user` uploaded, waited for until processed, and posted publicly."""
    form = aiohttp.FormData()
    form.add_field("file", path.read_bytes(), filename=path.name, content_type=content_type)
    async with user.http.post(f"{user.server.url}/api/v2/media", data=form, headers=user.headers()) as answer:
        assert answer.status == 202, await answer.text()
        media = str((await answer.json())["id"])
    deadline = time.monotonic() + 60
    while (await user.call("GET", f"/api/v1/media/{media}")).status != 200:
        assert time.monotonic() < deadline, f"{path.name} was not processed"
        await user.server.projection.wait_for(await user.server.events.last_seq() + 1, 0.5)
    assert (await status(user, path.name, [media], visibility="public")).status == 200
    return media


def tiles(text: str) -> list[str]:
    return re.findall(r'<li class="tile" data-media="(\d+)"', text)


async def test_anyone_sees_posted_media_and_only_the_owner_sees_the_rest(
        shared_server: Running, shared_http: aiohttp.ClientSession, tmp_path: Path) -> None:
    server = shared_server
    ada = await api(server, shared_http, "ada")
    public = await posted(ada, tmp_path, seed=1)
    unposted = await ada.uploaded(tmp_path, seed=2)

    status_code, home = await page(shared_http, f"{server.url}/")
    assert status_code == 200
    assert public in tiles(home) and unposted not in tiles(home)
    status_code, gallery = await page(shared_http, f"{server.url}/u/ada")
    assert status_code == 200 and public in tiles(gallery) and unposted not in tiles(gallery)
    # Somebody's unposted media is, to anyone else, media that does not exist.
    for path in (f"/u/ada/m/{unposted}", f"/u/bob/m/{public}", "/u/ada/m/99999", "/u/nobody"):
        status_code, text = await page(shared_http, f"{server.url}{path}")
        assert status_code == 404, path
        assert 'id="error"' in text and "There is no such" in text
    async with jar() as http:
        await signed_in(server.url, http, "ada", "ada-password")
        status_code, mine = await page(http, f"{server.url}/u/ada")
        assert [unposted, public] == [m for m in tiles(mine) if m in (public, unposted)]
        assert "not posted" in mine
        status_code, own = await page(http, f"{server.url}/u/ada/m/{unposted}")
        assert status_code == 200 and 'id="unposted"' in own
        # Bob, signed in, sees no more of Ada's than anyone.
        await signed_in(server.url, http, "bob", "bob-password")
        assert (await page(http, f"{server.url}/u/ada/m/{unposted}"))[0] == 404


async def test_a_picture_offers_the_widths_of_the_transformation_urls_in_its_box(
        shared_server: Running, shared_http: aiohttp.ClientSession, tmp_path: Path) -> None:
    server = shared_server
    ada = await api(server, shared_http, "ada")
    media = await posted(ada, tmp_path, seed=3, width=1600, height=1200)
    status_code, text = await page(shared_http, f"{server.url}/u/ada/m/{media}")
    assert status_code == 200
    image = re.search(r'<img class="photo" id="media-image" [^>]*>', text)
    assert image, text
    tag = image.group(0)
    assert 'width="1600" height="1200"' in tag and 'loading="lazy"' in tag and "sizes=" in tag
    srcset = re.search(r'srcset="([^"]+)"', tag)
    assert srcset
    offered = [entry.strip().rsplit(" ", 1) for entry in srcset.group(1).split(",")]
    assert [w for _, w in offered] == ["240w", "480w", "720w", "960w", "1440w", "1600w"]
    # Each width is a transformation URL that gives an image of that width.
    async with shared_http.get(offered[1][0].replace("&amp;", "&")) as answer:
        assert answer.status == 200
        assert pyvips.Image.new_from_buffer(await answer.read(), "").width == 480
    placeholder = re.search(r'<img class="placeholder" src="([^"]+)" width="1600" height="1200"', text)
    assert placeholder, text
    async with shared_http.get(server.url + placeholder.group(1).replace("&amp;", "&")) as answer:
        assert answer.status == 200 and answer.headers["Content-Type"] == "image/png"
        assert "immutable" in answer.headers["Cache-Control"]
        blurred = pyvips.Image.new_from_buffer(await answer.read(), "")
        assert (blurred.width, blurred.height) == (32, 24)
    # The gallery's tiles are the same pictures, at the tile's size.
    home = (await page(shared_http, f"{server.url}/"))[1]
    assert re.search(rf'data-media="{media}"[\s\S]*?<img class="placeholder"[\s\S]*?srcset="[^"]*480w', home)


async def test_user_text_is_text_on_every_page(
        shared_server: Running, shared_http: aiohttp.ClientSession, tmp_path: Path) -> None:
    server = shared_server
    ada = await api(server, shared_http, "ada")
    media = await ada.uploaded(tmp_path, seed=4)
    await described(ada, media, '<script>alert("d")</script> & "quotes"')
    answer = await status(ada, '<script>alert("s")</script><img src=x onerror=alert(1)>', [media],
                          visibility="public")
    assert answer.status == 200
    bob = await login(server, "bob")
    said = await bob.activity("post", {"objectType": "comment",
                                       "content": '<p>Nice <b>light</b></p><script>alert("c")</script>',
                                       "inReplyTo": {"id": f"{server.url}/api/image/{media}", "objectType": "image"}})
    assert said.status == 200, said.json
    for path in (f"/u/ada/m/{media}", "/u/ada", "/"):
        status_code, text = await page(shared_http, f"{server.url}{path}")
        assert status_code == 200
        assert "<script>alert" not in text and "onerror=alert(1)>" not in text, path
    text = (await page(shared_http, f"{server.url}/u/ada/m/{media}"))[1]
    assert "&lt;script&gt;alert(&#34;d&#34;)&lt;/script&gt; &amp; &#34;quotes&#34;" in text
    assert "&lt;script&gt;alert(&#34;s&#34;)&lt;/script&gt;" in text
    # A pump.io comment is HTML within pump.io's whitelist: its markup stays, its script goes.
    assert "Nice <b>light</b>" in text and 'alert("c")' not in text
    assert re.search(r'<img class="photo" [^>]*alt="&lt;script&gt;alert\(&#34;d&#34;\)', text)


async def test_video_and_audio_pages_have_players(
        shared_server: Running, shared_http: aiohttp.ClientSession, tmp_path: Path) -> None:
    server = shared_server
    ada = await api(server, shared_http, "ada")
    video = await posted_played(ada, avsamples.h264_mp4(tmp_path / "clip.mp4"), "video/mp4")
    status_code, text = await page(shared_http, f"{server.url}/u/ada/m/{video}")
    assert status_code == 200
    player = re.search(r'<video id="player" controls preload="metadata" src="([^"]+)" [^>]*>', text)
    assert player, text
    assert "poster=" in player.group(0) and 'width="' in player.group(0)
    async with shared_http.get(player.group(1), headers={"Range": "bytes=0-99"}) as answer:
        # Seeking in the player asks for ranges of the file.
        assert answer.status == 206 and len(await answer.read()) == 100
    assert 'data-kind="video"' in (await page(shared_http, f"{server.url}/"))[1]


async def test_pages_go_back_in_time_and_refuse_marks_they_did_not_make(
        shared_server: Running, shared_http: aiohttp.ClientSession, tmp_path: Path) -> None:
    server = shared_server
    ada = await api(server, shared_http, "ada")
    made = [await posted(ada, tmp_path, seed=10 + n) for n in range(3)]
    first = await public_media(server.projection, None, 2)
    assert [row["media_id"] for row in first.rows][:2] == made[::-1][:2] and first.after is not None
    second = await public_media(server.projection, first.after, 2)
    assert second.rows[0]["media_id"] == made[0]
    mine = await users_media(server.projection, "ada", everything=True, before=None, count=1)
    assert mine.after is not None
    status_code, text = await page(shared_http, f"{server.url}/?before={first.after.token()}")
    assert status_code == 200 and made[0] in tiles(text) and made[2] not in tiles(text)
    for bad in ("x", "1.5_", "nan_1", "1e400_5", "1_../x", "9" * 40 + "_1"):
        async with shared_http.get(f"{server.url}/", params={"before": bad}) as answer:
            assert answer.status == 400, bad
            assert "That is not a page of this gallery" in await answer.text()


@pytest.mark.parametrize("query", ["", "hash=abc&w=4&h=3", "hash=LEHV6nWB2yk8pyo0adR*.7kCMdnj&w=0&h=3",
                                   "hash=LEHV6nWB2yk8pyo0adR*.7kCMdnj&w=33&h=3",
                                   "hash=LEHV6nWB2yk8pyo0adR*.7kCMdnj&w=x&h=3", "hash=" + "0" * 200 + "&w=4&h=3"])
async def test_a_placeholder_refuses_what_is_no_blurhash_or_size(
        shared_server: Running, shared_http: aiohttp.ClientSession, query: str) -> None:
    async with shared_http.get(f"{shared_server.url}/placeholder.png?{query}") as answer:
        assert answer.status == 400
        assert answer.headers["Content-Type"].startswith("text/html")
        assert 'id="error"' in await answer.text()


async def test_the_owner_sees_a_failed_media_with_its_reason_and_nobody_else_sees_it(
        shared_server: Running, shared_http: aiohttp.ClientSession, tmp_path: Path) -> None:
    server = shared_server
    ada = await api(server, shared_http, "ada")
    media = await ada.failed(tmp_path, "ada")
    assert (await page(shared_http, f"{server.url}/u/ada/m/{media}"))[0] == 404
    async with jar() as http:
        await signed_in(server.url, http, "ada", "ada-password")
        status_code, text = await page(http, f"{server.url}/u/ada/m/{media}")
        assert status_code == 200 and 'data-status="failed"' in text
        assert re.search(r'id="status">Processing failed: \S', text), text
        assert media in tiles((await page(http, f"{server.url}/u/ada"))[1])


async def test_the_pages_own_files_are_served_and_any_other_name_is_a_page_shaped_404(
        shared_server: Running, shared_http: aiohttp.ClientSession) -> None:
    async with shared_http.get(f"{shared_server.url}/static/site.css") as answer:
        assert answer.status == 200 and answer.content_type == "text/css"
        assert ".tiles" in await answer.text()
    for name in ("nope.js", "..%2Fgateway.py", "site.css%00", "gateway.py"):
        async with shared_http.get(f"{shared_server.url}/static/{name}") as answer:
            assert answer.status == 404, name
            assert answer.content_type == "text/html" and "There is no such file" in await answer.text()


async def test_an_unposted_pumpio_upload_shows_to_its_signed_in_owner_alone(
        shared_server: Running, shared_http: aiohttp.ClientSession, tmp_path: Path) -> None:
    server = shared_server
    pump = await login(server, "ada")
    uploaded = await pump.upload(images.jpeg(tmp_path / "private.jpg", 640, 480, seed=30).read_bytes())
    assert uploaded.status == 200, uploaded.json
    media = uploaded.json["id"].rsplit("/", 1)[-1]
    assert await server.projection.wait_for(await server.events.last_seq(), 10.0)
    async with jar() as http:
        await signed_in(server.url, http, "ada", "ada-password")
        status_code, text = await page(http, f"{server.url}/u/ada/m/{media}")
        assert status_code == 200, text
        image = re.search(r'<img class="photo" id="media-image" src="([^"]+)"', text)
        assert image
        async with http.get(image.group(1)) as answer:
            # The owner's own browser: the login cookie stands in for a signed pump.io request.
            assert answer.status == 200 and answer.headers["Cache-Control"].startswith("private")
        await signed_in(server.url, http, "bob", "bob-password")
        async with http.get(image.group(1)) as answer:
            assert answer.status == 404
    async with shared_http.get(image.group(1)) as answer:
        assert answer.status == 404


async def test_a_users_page_shows_collections_and_their_public_media(
        shared_server: Running, tmp_path: Path) -> None:
    server = shared_server
    pump = await login(server, "cy")
    birds = await album(pump, "Birds & herons")
    heron = await posted_image(pump, tmp_path, seed=40, displayName="Heron")
    await album(pump, "Empty so far")
    await add(pump, heron, birds)
    async with aiohttp.ClientSession() as http:
        status_code, text = await page(http, f"{server.url}/u/cy")
        assert status_code == 200
        sections = re.findall(r'<section class="collection"[\s\S]*?</section>', text)
        # A collection with nothing to show is left out.
        assert len(sections) == 1 and "Birds &amp; herons" in sections[0]
        assert tiles(sections[0]) == [local(heron["id"])]
        status_code, text = await page(http, f"{server.url}/u/cy/m/{local(heron['id'])}")
        assert 'id="in-collections"' in text and "Birds &amp; herons" in text
        # The pump.io title is the page's heading.
        assert "<h1>Heron</h1>" in text


async def test_an_audio_page_has_a_player_and_its_cover(
        shared_server: Running, shared_http: aiohttp.ClientSession, tmp_path: Path) -> None:
    server = shared_server
    ada = await api(server, shared_http, "ada")
    audio = await posted_played(ada, avsamples.mp3(tmp_path / "song.mp3", cover=(320, 320)), "audio/mpeg")
    status_code, text = await page(shared_http, f"{server.url}/u/ada/m/{audio}")
    assert status_code == 200
    assert re.search(r'<audio id="player" controls preload="metadata" src="[^"]+/original\.mp3">', text), text
    assert '<img class="photo"' in text, "the cover art is shown above the player"
