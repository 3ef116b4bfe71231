"""An image's `location`, a place object, through pump.io posts and updates, over real HTTP, and a rebuild."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.outage import free_port
from tests.servers import Running, make_config, rebuilt, start
from tests.test_pumpio_feed import Pump, jpeg, login, posted_image

LOCH_NESS = {"objectType": "place", "displayName": "Loch Ness",
             "position": {"latitude": 57.3, "longitude": -4.45, "altitude": 16},
             "address": {"locality": "Inverness", "country": "UK"}}
# As Activity Streams 2.0 and maps spell coordinates, with no objectType, and a member of the client's own.
EIFFEL = {"displayName": "Tour Eiffel", "latitude": 48.8584, "lon": 2.2945, "position": "+48.8584+002.2945/",
          "x-client": {"zoom": 17}}


async def test_a_location_is_kept_shown_and_replaced(server: Running, tmp_path: Path) -> None:
    alice, bob = await login(server, "alice"), await login(server, "bob")
    uploaded = (await alice.upload(jpeg(tmp_path))).json
    assert "location" not in uploaded
    posted = await alice.activity("post", {**uploaded, "location": LOCH_NESS})
    assert posted.status == 200, posted.json
    assert posted.json["object"]["location"] == LOCH_NESS
    image_id = uploaded["id"]
    assert (await bob.get(image_id)).json["location"] == LOCH_NESS
    outbox = await bob.get("/api/user/alice/feed")
    assert outbox.json["items"][0]["object"]["location"] == LOCH_NESS

    # An update without a location leaves it; one with a location replaces it whole.
    retitled = await alice.activity("update", {"id": image_id, "objectType": "image", "displayName": "Nessie"})
    assert retitled.json["object"]["location"] == LOCH_NESS
    moved = await alice.activity("update", {"id": image_id, "objectType": "image", "location": EIFFEL})
    assert moved.status == 200, moved.json
    assert moved.json["object"]["location"] == {"objectType": "place", **EIFFEL}
    again = await alice.activity("update", {"id": image_id, "objectType": "image", "location": None})
    assert again.json["object"]["location"] == {"objectType": "place", **EIFFEL}
    assert (await bob.get(image_id)).json["displayName"] == "Nessie"


async def test_a_location_that_is_no_place_is_refused(server: Running, tmp_path: Path) -> None:
    alice = await login(server, "alice")
    shown = (await alice.activity("post", (await alice.upload(jpeg(tmp_path, seed=1))).json)).json["object"]
    uploaded = (await alice.upload(jpeg(tmp_path))).json
    not_a_place = "'location' must be a place: an object whose objectType, if given, is 'place'"
    cases: list[tuple[Any, str]] = [
        ("Loch Ness", not_a_place),
        ([LOCH_NESS], not_a_place),
        (57.3, not_a_place),
        ({"objectType": "person", "displayName": "Nessie"}, not_a_place),
        ({"displayName": 7}, "'location.displayName' must be a string"),
        ({"position": [57.3, -4.45]}, "'location.position' must be an object or a string"),
        ({"address": 12}, "'location.address' must be an object or a string"),
        ({"latitude": 91}, "'location.latitude' must be a number from -90 to 90"),
        ({"lon": "east"}, "'location.lon' must be a number from -180 to 180"),
        ({"position": {"longitude": -180.5}}, "'location.position.longitude' must be a number from -180 to 180"),
        ({"position": {"latitude": True}}, "'location.position.latitude' must be a number from -90 to 90"),
        ({"position": {"altitude": "high"}}, "'location.position.altitude' must be a number"),
        ({"displayName": "x" * 5000}, "'location' is too large (at most 4096 bytes as JSON)"),
    ]
    before = await server.events.last_seq()
    for location, message in cases:
        for verb, image in (("post", uploaded), ("update", shown)):
            answer = await alice.activity(verb, {"id": image["id"], "objectType": "image", "location": location})
            assert (answer.status, answer.json) == (400, {"error": message}), (verb, location)
    assert await server.events.last_seq() == before
    posted = await alice.activity("post", {**uploaded, "location": {"displayName": "x" * 4000}})
    assert posted.status == 200 and len(posted.json["object"]["location"]["displayName"]) == 4000


async def test_a_location_survives_a_rebuild(nats_url: str, data_dir: Path, tmp_path: Path) -> None:
    config = make_config(nats_url, data_dir, port=free_port())
    first = await start(config)
    alice = await login(first, "alice")
    uploaded = (await alice.upload(jpeg(tmp_path))).json
    assert (await alice.activity("post", {**uploaded, "location": LOCH_NESS})).status == 200
    done = await rebuilt(first, config)
    try:
        shown = await Pump(done.running.url, "alice", alice.auth).get(uploaded["id"])
        assert shown.status == 200 and shown.json["location"] == LOCH_NESS
    finally:
        await done.running.server.stop()


async def test_a_place_is_kept_in_the_safe_forms_of_an_object(server: Running, tmp_path: Path) -> None:
    alice = await login(server, "alice")
    location = {"objectType": "place", "displayName": "<b>Loch</b> <script>alert(1)</script>Ness",
                "content": '<p onclick="x()">Deep <a href="javascript:alert(1)">water</a></p>',
                "url": "https://example.org/ness"}
    image = await posted_image(alice, tmp_path, location=location)
    kept = image["location"]
    assert kept["displayName"] == "Loch Ness"
    assert "onclick" not in kept["content"] and "javascript:" not in kept["content"]
    assert kept["url"] == "https://example.org/ness"
    refused = await alice.activity("update", {"id": image["id"], "objectType": "image",
                                              "location": {"displayName": "x", "url": "javascript:alert(1)"}})
    assert (refused.status, refused.json) == (400, {"error": "'location.url' must be an http or https URL"})
