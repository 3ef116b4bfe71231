"""toot, the command-line client, unmodified, as a subprocess with its own config directory."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

from tests import images
from tests.servers import Running

TOOT = Path(sys.executable).with_name("toot")


def configure(home: Path, server: Running, token: str, user: str) -> dict[str, str]:
    """toot's config file with the token in it, as `toot login` would have written it."""
    instance = urlsplit(server.url).netloc
    config = {
        "apps": {instance: {"instance": instance, "base_url": server.url, "client_id": "toot-client",
                            "client_secret": "toot-secret"}},
        "users": {f"{user}@{instance}": {"instance": instance, "username": user, "access_token": token}},
        "active_user": f"{user}@{instance}",
    }
    directory = home / "config" / "toot"
    directory.mkdir(parents=True)
    (directory / "config.json").write_text(json.dumps(config))
    return {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"), "NO_COLOR": "1",
            "COLUMNS": "200", "TERM": "dumb"}


async def toot(env: dict[str, str], *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        str(TOOT), *args, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    assert process.returncode == 0, (args, text)
    return text


async def test_toot_posts_reads_and_deletes_a_status_with_media(server: Running, tmp_path: Path) -> None:
    env = configure(tmp_path / "home", server, await server.token("alice"), "alice")
    photo = images.jpeg(tmp_path / "photo.jpg", 800, 600)
    posted = await toot(env, "post", "--media", str(photo), "--description", "a grey heron", "Herons at dawn")
    assert "Toot posted" in posted
    status_id = posted.strip().rsplit("/", 1)[1]
    assert status_id.isdigit()
    shown = await server.projection.one("SELECT text, attachments FROM posts WHERE post_id = ?", (status_id,))
    assert shown is not None and shown["text"] == "Herons at dawn"
    (media_id,) = json.loads(shown["attachments"])
    media = await server.projection.one("SELECT description FROM media WHERE media_id = ?", (media_id,))
    assert media is not None and media["description"] == "a grey heron"

    timeline = await toot(env, "timeline", "--once")
    assert "Herons at dawn" in timeline and status_id in timeline
    alone = await toot(env, "status", status_id)
    assert "Herons at dawn" in alone and "Media:" in alone and f"ID {status_id}" in alone
    deleted = await toot(env, "delete", status_id)
    assert "deleted" in deleted.lower()
    assert await server.projection.one("SELECT 1 FROM posts WHERE post_id = ?", (status_id,)) is None
    assert "Herons at dawn" not in await toot(env, "timeline", "--once")
