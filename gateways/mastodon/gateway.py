"""The Mastodon media API as a gateway: its routes, error style and settings."""

from __future__ import annotations

from aiohttp import web

from core.probe import Limits
from gateways.kit.descriptor import Flag, Gateway
from gateways.kit.refusal import ErrorStyle
from gateways.mastodon import (
    accounts,
    apps,
    authorize,
    errors,
    follows,
    instance,
    interactions,
    media,
    oauth2,
    openapi,
    ratelimits,
    startup,
    statuses,
    timelines,
)
from gateways.mastodon.settings import MastodonSettings


def add_routes(app: web.Application) -> None:
    before = set(app.router.resources())
    app.add_routes(instance.routes())
    app.add_routes(media.routes())
    app.add_routes(startup.routes())
    app.add_routes(apps.routes())
    app.add_routes(oauth2.routes())
    app.add_routes(statuses.routes())
    app.add_routes(interactions.routes())
    app.add_routes(follows.routes())
    app.add_routes(accounts.routes())
    app.add_routes(timelines.routes())
    # Last, so that it counts every route added above.
    ratelimits.limit(app, frozenset(set(app.router.resources()) - before))


GATEWAY = Gateway(
    name="mastodon",
    openapi=openapi.fragment,
    routes=add_routes,
    errors=ErrorStyle(codes=False, unavailable=errors.UNAVAILABLE, not_found=errors.NOT_FOUND),
    settings=MastodonSettings,
    flags=(
        Flag("image_size_limit", "--image-size-limit", "largest image upload in bytes, plus one"),
        Flag("video_size_limit", "--video-size-limit", "largest video or audio upload in bytes, plus one"),
        Flag("description_limit", "--description-limit", "longest media description in characters"),
        Flag("v2_sync_wait", "--v2-sync-wait", "seconds POST /api/v2/media waits for processing before a 202"),
        Flag("v1_sync_wait", "--v1-sync-wait", "seconds POST /api/v1/media waits for processing at most"),
        Flag("api_rate_limit", "--api-rate-limit", "requests per token in each API rate window, 0 for no limit"),
        Flag("api_rate_period", "--api-rate-period", "seconds of one API rate window"),
        Flag("media_rate_limit", "--media-rate-limit", "media uploads per user in each upload window, 0 for no limit"),
        Flag("media_rate_period", "--media-rate-period", "seconds of one media upload window"),
        Flag("rate_limit_cli_tokens", "--rate-limit-cli-tokens",
             "whether tokens made by `mediaplex token create` are rate limited too (yes or no)"),
    ),
    limits=Limits(),
    # Mastodon's vacuum: uploads no status attaches are deleted after a day.
    sweeps_unattached=True,
    via="mastodon",
    authorize=authorize.FLOW,
)
