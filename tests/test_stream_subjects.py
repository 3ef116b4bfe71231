"""Listing a stream's subjects past the 100,000 the server answers in one reply."""

from __future__ import annotations

import asyncio
import uuid

from nats.js import api as js_api

from core.jetstream import connect, stream_subjects

# One more than the server's page.
SUBJECTS = 100_001


async def test_every_subject_is_listed_however_many_pages_it_takes(nats_url: str) -> None:
    client = await connect([nats_url], name="subjects-tests")
    js = client.jetstream()
    stream = f"SUBJECTS_{uuid.uuid4().hex[:8]}"
    await js.add_stream(js_api.StreamConfig(name=stream, subjects=[f"{stream}.>"], storage=js_api.StorageType.MEMORY))
    try:
        for start in range(0, SUBJECTS, 5000):
            acks = [await js.publish_async(f"{stream}.c.{n}", b"x", stream=stream)
                    for n in range(start, min(start + 5000, SUBJECTS))]
            await asyncio.gather(*acks)
        await js.publish(f"{stream}.c.7", b"again", stream=stream)
        await js.publish(f"{stream}.other", b"not matched", stream=stream)
        first_page = (await js.stream_info(stream, subjects_filter=f"{stream}.c.>")).state.subjects or {}
        assert len(first_page) < SUBJECTS
        found = await stream_subjects(js, stream, f"{stream}.c.>")
        assert len(found) == SUBJECTS
        assert found[f"{stream}.c.7"] == 2 and found[f"{stream}.c.{SUBJECTS - 1}"] == 1
        assert await stream_subjects(js, stream, f"{stream}.none.>") == {}
    finally:
        await js.delete_stream(stream)
        await client.close()
