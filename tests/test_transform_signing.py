"""Signed transformation URLs: the signature itself, the server's checks, and `mediaplex sign-url`."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from urllib.parse import parse_qsl, urlsplit

import aiohttp
import pytest
import pyvips

from gateways.transform.settings import TransformSettings
from gateways.transform.signing import message, sign_url, signature, verify
from mediaplex.cli import config_from, parser
from tests.servers import Running

KEY = "a-transformation-key"
PATH = "/media/sha256/" + "ab" * 32


def test_message_is_the_path_and_the_sorted_query_without_s() -> None:
    assert message(PATH, []) == PATH.encode()
    assert message(PATH, [("w", "10"), ("fm", "png"), ("s", "x")]) == f"{PATH}?fm=png&w=10".encode()
    assert message(PATH, [("auto", "format,compress")]) == f"{PATH}?auto=format%2Ccompress".encode()


def test_signatures_are_urlsafe_base64_without_padding_and_order_free() -> None:
    one = signature(KEY, PATH, [("w", "10"), ("h", "20")])
    assert len(one) == 43 and "=" not in one and "+" not in one and "/" not in one
    assert signature(KEY, PATH, [("h", "20"), ("w", "10")]) == one
    assert signature(KEY, PATH, [("w", "10"), ("h", "21")]) != one
    assert signature("another key", PATH, [("w", "10"), ("h", "20")]) != one
    assert signature(KEY, PATH.replace("ab", "cd", 1), [("w", "10"), ("h", "20")]) != one
    assert verify(KEY, PATH, [("h", "20"), ("w", "10"), ("s", one)], one)
    assert not verify(KEY, PATH, [("h", "20"), ("w", "10")], one[:-1])
    assert not verify(KEY, PATH, [("h", "20"), ("w", "10")], "é" * 43)


def test_sign_url_keeps_the_url_and_replaces_an_old_signature() -> None:
    url = f"http://example.test{PATH}?w=10&auto=format,compress"
    signed = sign_url(url, KEY)
    assert signed.startswith(url + "&s=")
    pairs = parse_qsl(urlsplit(signed).query)
    assert verify(KEY, PATH, pairs, dict(pairs)["s"])
    assert sign_url(signed, KEY) == signed
    assert sign_url(signed, "other").startswith(url + "&s=") and sign_url(signed, "other") != signed
    assert sign_url(f"http://example.test{PATH}", KEY).startswith(f"http://example.test{PATH}?s=")


def test_serve_takes_the_key_from_flag_or_environment() -> None:
    assert config_from(parser({}).parse_args(["serve"])).settings(TransformSettings).transform_key == ""
    from_env = parser({"MEDIAPLEX_TRANSFORM_KEY": "k1"}).parse_args(["serve"])
    assert config_from(from_env).settings(TransformSettings).transform_key == "k1"
    flag = parser({"MEDIAPLEX_TRANSFORM_KEY": "k1"}).parse_args(["serve", "--transform-key", "k2"])
    assert config_from(flag).settings(TransformSettings).transform_key == "k2"


def sign_with_cli(url: str, *flags: str, key_in_env: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name != "MEDIAPLEX_TRANSFORM_KEY"}
    if key_in_env is not None:
        env["MEDIAPLEX_TRANSFORM_KEY"] = key_in_env
    return subprocess.run([sys.executable, "-m", "mediaplex", "sign-url", url, *flags],
                          capture_output=True, text=True, env=env, timeout=60)


pytestmark = pytest.mark.server(transform_key=KEY)


@pytest.fixture(scope="module")
def server(shared_server: Running) -> Running:
    return shared_server


@pytest.fixture(scope="module")
async def original_url(server: Running) -> str:
    image = pyvips.Image.xyz(320, 240)[0].cast("uchar").bandjoin([90, 160]).copy(interpretation="srgb")
    token = await server.token("alice")
    body = aiohttp.FormData()
    body.add_field("file", io.BytesIO(image.jpegsave_buffer()), filename="in.jpg", content_type="image/jpeg")
    async with aiohttp.ClientSession() as http, http.post(
        f"{server.url}/api/v1/media", data=body, headers={"Authorization": f"Bearer {token}"}
    ) as response:
        assert response.status == 200
        url: str = (await response.json())["url"]
    return url


async def status_of(url: str) -> tuple[int, dict[str, object] | None, bytes]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        body = await response.read()
        parsed = await response.json() if response.content_type == "application/json" else None
        return response.status, parsed, body


async def test_the_server_requires_a_good_signature(server: Running, original_url: str) -> None:
    blob = original_url.split("/media/files/")[1].split("/")[0]
    for base in (original_url, f"{server.url}/media/sha256/{blob}"):
        url = f"{base}?w=100&fm=png"
        status, error, _ = await status_of(url)
        assert status == 403 and error is not None
        assert error["code"] == "signature_required" and error["parameter"] == "s"
        signed = sign_url(url, KEY)
        status, _, body = await status_of(signed)
        assert status == 200 and pyvips.Image.new_from_buffer(body, "").width == 100
        for wrong in (sign_url(url, "not the key"), signed[:-2], signed.replace("w=100", "w=101"),
                      signed + "&h=5", signed + "&s=" + signed.rsplit("=", 1)[1], signed + "&utm=x"):
            status, error, _ = await status_of(wrong)
            assert status == 403 and error is not None and error["parameter"] == "s", wrong
        # Parameters are checked after the signature, and still named.
        status, error, _ = await status_of(sign_url(f"{base}?w=0", KEY))
        assert status == 400 and error is not None and error["parameter"] == "w"
        # Untransformed URLs need no signature; neither do ones with only unknown parameters.
        assert (await status_of(base))[0] == 200
        assert (await status_of(f"{base}?utm_source=x"))[0] == 200


async def test_cli_signs_urls_the_server_accepts(server: Running, original_url: str) -> None:
    url = f"{original_url}?w=64&h=64&fit=crop&auto=format"
    by_flag = sign_with_cli(url, "--transform-key", KEY)
    assert by_flag.returncode == 0, by_flag.stderr
    printed = by_flag.stdout.strip()
    assert by_flag.stdout == printed + "\n" and printed.startswith(url + "&s=")
    status, _, body = await status_of(printed)
    assert status == 200 and pyvips.Image.new_from_buffer(body, "").width == 64
    by_env = sign_with_cli(url, key_in_env=KEY)
    assert by_env.returncode == 0 and by_env.stdout == by_flag.stdout
    no_key = sign_with_cli(url)
    assert no_key.returncode == 2 and no_key.stdout == "" and "--transform-key" in no_key.stderr


async def test_a_signed_variant_answered_from_memory_still_needs_its_signature(server: Running,
                                                                              original_url: str) -> None:
    url = f"{original_url}?w=90&fm=png"
    signed = sign_url(url, KEY)
    for _ in range(2):
        status, _, body = await status_of(signed)
        assert status == 200 and pyvips.Image.new_from_buffer(body, "").width == 90
    variants = server.server.variants
    assert variants is not None and len(variants.answers) > 0
    for wrong in (url, sign_url(url, "not the key"), signed[:-2], signed.replace("w=90", "w=91"), signed + "&h=5"):
        status, error, _ = await status_of(wrong)
        assert status == 403 and error is not None and error["parameter"] == "s", wrong
