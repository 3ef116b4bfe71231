"""The owner's forms on a media page: a signed-in user describes a media, sets its focus point and deletes it;
nobody else can, and nothing is appended for a form that is refused."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp
import html5lib
import jinja2
import pytest

from core.events import Focus
from gateways.kit.media import MediaView
from gateways.kit.media_changes import BadFocus, DescriptionTooLong, check_description, focus_of, focus_point
from gateways.web.session import Viewer
from store.queries.media import media_by_id
from tests import images
from tests.servers import Running, bearer
from tests.test_web_signin import csrf_of, signed_in


def strict_html(text: str) -> None:
    html5lib.HTMLParser(strict=True).parse(text)


def jar() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def uploaded(running: Running, user: str, tmp_path: Path) -> str:
    """A processed JPEG of `user`'s, uploaded through Mastodon's API."""
    token = await running.token(user)
    form = aiohttp.FormData()
    form.add_field("file", images.jpeg(tmp_path / f"{user}.jpg", 320, 240).read_bytes(), filename="photo.jpg",
                   content_type="image/jpeg")
    async with aiohttp.ClientSession() as http, \
            http.post(f"{running.url}/api/v2/media", data=form, headers=bearer(token)) as answer:
        assert answer.status == 200, await answer.text()
        return str((await answer.json())["id"])


async def mastodon_view(running: Running, user: str, media_id: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, \
            http.get(f"{running.url}/api/v1/media/{media_id}", headers=bearer(await running.token(user))) as answer:
        assert answer.status == 200, await answer.text()
        found: dict[str, Any] = await answer.json()
        return found


async def signed(running: Running, http: aiohttp.ClientSession, user: str) -> str:
    """Signs `user` in (making them first if need be); the CSRF token of their session."""
    await running.token(user)
    return csrf_of(await signed_in(running.url, http, user, f"{user}-password"))


async def refused_page(answer: aiohttp.ClientResponse, status: int, words: str) -> None:
    text = await answer.text()
    assert answer.status == status, text
    assert answer.content_type == "text/html"
    strict_html(text)
    assert words in text, text


async def test_the_owner_describes_a_media_and_markup_stays_text(shared_server: Running, tmp_path: Path) -> None:
    running = shared_server
    media_id = await uploaded(running, "ada", tmp_path)
    page = f"/u/ada/m/{media_id}"
    async with jar() as http:
        csrf = await signed(running, http, "ada")
        form = {"csrf_token": csrf, "description": "A quiet harbour\r\nat dawn"}
        async with http.post(f"{running.url}{page}/description", data=form, allow_redirects=False) as answer:
            assert answer.status == 303, await answer.text()
            assert answer.headers["Location"] == page
        assert (await mastodon_view(running, "ada", media_id))["description"] == "A quiet harbour\nat dawn"

        hostile = '<script>alert("x")</script> & <b>bold</b>'
        async with http.post(f"{running.url}{page}/description", data={"csrf_token": csrf, "description": hostile},
                             allow_redirects=False) as answer:
            assert answer.status == 303
        row = await media_by_id(running.projection, media_id)
        assert row is not None and row["description"] == hostile and row["description_html"] == 0
        assert (await mastodon_view(running, "ada", media_id))["description"] == hostile

        # An empty textarea clears the description, as Mastodon's empty string does.
        async with http.post(f"{running.url}{page}/description", data={"csrf_token": csrf, "description": ""},
                             allow_redirects=False) as answer:
            assert answer.status == 303
        row = await media_by_id(running.projection, media_id)
        assert row is not None and row["description"] == ""


async def test_a_description_past_the_limit_or_missing_is_refused(shared_server: Running, tmp_path: Path) -> None:
    running = shared_server
    media_id = await uploaded(running, "bea", tmp_path)
    page = f"{running.url}/u/bea/m/{media_id}"
    async with jar() as http:
        csrf = await signed(running, http, "bea")
        before = await running.events.last_seq()
        # Four UTF-8 bytes a character: still the length that is told, not the body's size.
        async with http.post(f"{page}/description", data={"csrf_token": csrf, "description": "🌊" * 1501}) as answer:
            await refused_page(answer, 422, "The description is 1501 characters long; it may be at most 1500")
        async with http.post(f"{page}/description", data={"csrf_token": csrf}) as answer:
            await refused_page(answer, 400, "The form carries no description")
        assert await running.events.last_seq() == before
        async with http.post(f"{page}/description", data={"csrf_token": csrf, "description": "🌊" * 1500},
                             allow_redirects=False) as answer:
            assert answer.status == 303
        assert (await mastodon_view(running, "bea", media_id))["description"] == "🌊" * 1500


async def test_a_form_without_its_csrf_token_changes_nothing(shared_server: Running, tmp_path: Path) -> None:
    running = shared_server
    media_id = await uploaded(running, "cai", tmp_path)
    page = f"{running.url}/u/cai/m/{media_id}"
    async with jar() as http:
        csrf = await signed(running, http, "cai")
        before = await running.events.last_seq()
        for path, form in (("description", {"description": "sneaky"}), ("focus", {"x": "0.5", "y": "0.5"}),
                           ("delete", {})):
            async with http.post(f"{page}/{path}", data=form) as answer:
                await refused_page(answer, 403, "CSRF token is missing or wrong")
            async with http.post(f"{page}/{path}", data={**form, "csrf_token": csrf + "x"}) as answer:
                await refused_page(answer, 403, "CSRF token is missing or wrong")
        assert await running.events.last_seq() == before
        assert await media_by_id(running.projection, media_id) is not None
    # Nobody signed in: the token of a fresh visit is right, and the form still asks to sign in.
    async with jar() as http:
        async with http.get(f"{running.url}/login") as answer:
            fresh = csrf_of(await answer.text())
        async with http.post(f"{page}/description", data={"csrf_token": fresh, "description": "x"}) as answer:
            await refused_page(answer, 401, "Sign in first")
        async with http.get(f"{page}/delete", allow_redirects=False) as answer:
            assert answer.status == 303 and answer.headers["Location"].startswith("/login?next=")
    assert await running.events.last_seq() == before


async def test_someone_elses_media_is_not_found(shared_server: Running, tmp_path: Path) -> None:
    running = shared_server
    theirs = await uploaded(running, "dov", tmp_path)
    mine = await uploaded(running, "eve", tmp_path)
    async with jar() as http:
        csrf = await signed(running, http, "eve")
        before = await running.events.last_seq()
        # Another's media under their name or under mine, mine under another's name, and no media at all:
        # the same page, which says nothing of whether it exists.
        for path in (f"/u/dov/m/{theirs}", f"/u/eve/m/{theirs}", f"/u/dov/m/{mine}", "/u/eve/m/nope"):
            for action, form in (("description", {"description": "mine now"}), ("focus", {"x": "0", "y": "0"}),
                                 ("delete", {})):
                async with http.post(f"{running.url}{path}/{action}", data={"csrf_token": csrf, **form}) as answer:
                    await refused_page(answer, 404, "There is no such media here")
            async with http.get(f"{running.url}{path}/delete") as answer:
                await refused_page(answer, 404, "There is no such media here")
        assert await running.events.last_seq() == before
        assert (await mastodon_view(running, "dov", theirs))["description"] is None


async def test_the_owner_sets_the_focus_point_within_range(shared_server: Running, tmp_path: Path) -> None:
    running = shared_server
    media_id = await uploaded(running, "fay", tmp_path)
    page = f"{running.url}/u/fay/m/{media_id}"
    async with jar() as http:
        csrf = await signed(running, http, "fay")
        before = await running.events.last_seq()
        for x, y in (("1.5", "0"), ("0", "-1.01"), ("nan", "0"), ("inf", "0"), ("", "0"), ("left", "top")):
            async with http.post(f"{page}/focus", data={"csrf_token": csrf, "x": x, "y": y}) as answer:
                await refused_page(answer, 422, "The focus point must be two numbers from -1 to 1")
        async with http.post(f"{page}/focus", data={"csrf_token": csrf}) as answer:
            await refused_page(answer, 422, "The focus point must be two numbers from -1 to 1")
        assert await running.events.last_seq() == before
        async with http.post(f"{page}/focus", data={"csrf_token": csrf, "x": "-0.25", "y": "0.75"},
                             allow_redirects=False) as answer:
            assert answer.status == 303 and answer.headers["Location"] == f"/u/fay/m/{media_id}"
    assert (await mastodon_view(running, "fay", media_id))["meta"]["focus"] == {"x": -0.25, "y": 0.75}
    row = await media_by_id(running.projection, media_id)
    assert row is not None and (row["focus_x"], row["focus_y"]) == (-0.25, 0.75)


async def test_the_owner_confirms_and_deletes_a_media(shared_server: Running, tmp_path: Path) -> None:
    running = shared_server
    media_id = await uploaded(running, "gus", tmp_path)
    page = f"/u/gus/m/{media_id}"
    async with jar() as http:
        csrf = await signed(running, http, "gus")
        async with http.post(f"{running.url}{page}/description",
                             data={"csrf_token": csrf, "description": "<i>dusk</i>"}, allow_redirects=False) as answer:
            assert answer.status == 303
        async with http.get(f"{running.url}{page}/delete") as answer:
            assert answer.status == 200
            assert answer.headers["Content-Security-Policy"].startswith("default-src 'self'")
            text = await answer.text()
        strict_html(text)
        assert f'action="{page}/delete"' in text and 'id="confirm-delete"' in text
        assert f'href="{page}"' in text
        assert "&lt;i&gt;dusk&lt;/i&gt;" in text and "<i>dusk" not in text
        async with http.post(f"{running.url}{page}/delete", data={"csrf_token": csrf_of(text)},
                             allow_redirects=False) as answer:
            assert answer.status == 303, await answer.text()
            assert answer.headers["Location"] == "/u/gus"
        assert await media_by_id(running.projection, media_id) is None
        # Gone: a second delete, like the page, finds nothing.
        async with http.post(f"{running.url}{page}/delete", data={"csrf_token": csrf}) as answer:
            await refused_page(answer, 404, "There is no such media here")
    async with aiohttp.ClientSession() as api, \
            api.get(f"{running.url}/api/v1/media/{media_id}", headers=bearer(await running.token("gus"))) as answer:
        assert answer.status == 404


async def test_a_media_in_a_post_beside_others_is_not_deleted_and_one_alone_goes_with_its_post(
        shared_server: Running, tmp_path: Path) -> None:
    running = shared_server
    media_id = await uploaded(running, "hal", tmp_path)
    other = await uploaded(running, "hal", tmp_path)
    alone = await uploaded(running, "hal", tmp_path)
    token = await running.token("hal")
    posts = []
    async with aiohttp.ClientSession() as api:
        for attached in ([media_id, other], [alone]):
            async with api.post(f"{running.url}/api/v1/statuses", json={"status": "look", "media_ids": attached},
                                headers=bearer(token)) as answer:
                assert answer.status == 200, await answer.text()
                posts.append((await answer.json())["id"])
    page = f"{running.url}/u/hal/m/{media_id}"
    async with jar() as http:
        csrf = await signed(running, http, "hal")
        before = await running.events.last_seq()
        async with http.post(f"{page}/delete", data={"csrf_token": csrf}) as answer:
            await refused_page(answer, 422, "in a post beside other media")
        assert await running.events.last_seq() == before
        assert await media_by_id(running.projection, media_id) is not None
        # Its description can still be changed: the owner's alt text, wherever it is shown.
        async with http.post(f"{page}/description", data={"csrf_token": csrf, "description": "posted"},
                             allow_redirects=False) as answer:
            assert answer.status == 303
        # A media its post shows alone, as the upload page posts each file: the page says the post goes too.
        async with http.get(f"{running.url}/u/hal/m/{alone}/delete") as answer:
            text = await answer.text()
            assert answer.status == 200 and 'id="delete-post"' in text and "“look”" in text
        async with http.post(f"{running.url}/u/hal/m/{alone}/delete", data={"csrf_token": csrf},
                             allow_redirects=False) as answer:
            assert answer.status == 303, await answer.text()
    row = await media_by_id(running.projection, media_id)
    assert row is not None and row["description"] == "posted"
    assert await media_by_id(running.projection, alone) is None
    async with aiohttp.ClientSession() as api:
        for post, status in zip(posts, (200, 404), strict=True):
            async with api.get(f"{running.url}/api/v1/statuses/{post}", headers=bearer(token)) as answer:
                assert answer.status == status


def render_forms(media: MediaView, owner: str = "ada") -> str:
    # The gateway's own settings: escaping on, and a variable the template lacks is an error.
    env = jinja2.Environment(loader=jinja2.PackageLoader("gateways.web", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    forms = env.get_template("owner_forms.html").render(media=media, owner=owner,
                                                         viewer=Viewer(user_id=owner, csrf='tok"en'))
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>t</title></head><body>'
            f'<img id="media-image" src="/x.png" alt="">{forms}</body></html>')


def view(**fields: Any) -> MediaView:
    return MediaView(id="m1", owner="ada", status="ready", filename="a.jpg", content_type="image/jpeg",
                     created_at=1.0, updated_at=1.0, **fields)


def test_the_forms_fragment_parses_and_escapes() -> None:
    text = render_forms(view(description='</textarea><script>alert(1)</script>"&', focus=Focus(x=0.5, y=-0.25)))
    strict_html(text)
    assert "<script>alert" not in text
    assert '&lt;/textarea&gt;&lt;script&gt;alert(1)&lt;/script&gt;&#34;&amp;</textarea>' in text
    assert 'value="tok&#34;en"' in text and 'tok"en' not in text
    for found in ('id="description"', 'id="save-description"', 'id="focus-form"', 'id="focus-value"',
                  'id="delete-link"', 'src="/static/focus.js"'):
        assert found in text
    assert 'action="/u/ada/m/m1/description"' in text and 'action="/u/ada/m/m1/focus"' in text
    assert 'href="/u/ada/m/m1/delete"' in text
    assert re.search(r'name="x"[^>]*value="0.50"', text) and re.search(r'name="y"[^>]*value="-0.25"', text)
    assert "Focus: x 0.50, y -0.25" in text

    bare = render_forms(view())
    strict_html(bare)
    assert '<textarea id="description" name="description" rows="4"></textarea>' in bare
    assert re.search(r'name="x"[^>]*value="0.00"', bare) and "not set" in bare


def test_the_kit_checks_focus_and_descriptions() -> None:
    assert focus_point("-1", "1") == Focus(x=-1.0, y=1.0)
    assert focus_of("0.5,-0.5") == Focus(x=0.5, y=-0.5)
    for x, y in (("1.0001", "0"), ("0", "-2"), ("nan", "0"), ("0", "-inf"), ("", ""), ("a", "0")):
        with pytest.raises(BadFocus):
            focus_point(x, y)
    for text in ("0.5", "0.5,0.5,0.5", "", ","):
        with pytest.raises(BadFocus):
            focus_of(text)
    assert check_description("x" * 10, 10) == "x" * 10
    with pytest.raises(DescriptionTooLong) as raised:
        check_description("x" * 11, 10)
    assert (raised.value.limit, raised.value.length) == (10, 11)
