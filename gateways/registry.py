"""Every protocol gateway Mediaplex serves. A new protocol is one folder and one line here."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from core.config import Config
from core.probe import Limits, widest
from gateways.kit.descriptor import Gateway
from gateways.mastodon.gateway import GATEWAY as MASTODON
from gateways.posts.gateway import GATEWAY as POSTS
from gateways.presigned.gateway import GATEWAY as PRESIGNED
from gateways.pumpio.gateway import GATEWAY as PUMPIO
from gateways.transform.gateway import GATEWAY as TRANSFORM
from gateways.web.gateway import GATEWAY as WEB

GATEWAYS: tuple[Gateway, ...] = (MASTODON, PUMPIO, PRESIGNED, POSTS, TRANSFORM, WEB)


def processing_limits(gateways: Iterable[Gateway] = GATEWAYS) -> Limits:
    """What processing accepts: everything any gateway lets in, so none of them sees its uploads fail."""
    return widest(*(g.limits for g in gateways if g.limits is not None))


def swept_vias(gateways: Iterable[Gateway] = GATEWAYS) -> tuple[str, ...]:
    return tuple(g.via for g in gateways if g.sweeps_unattached and g.via)


def configure(config: Config, gateways: Iterable[Gateway] = GATEWAYS, **values: Any) -> Config:
    """`config` with settings replaced by name: a Config field, or a field of a gateway's settings."""
    core = {k: v for k, v in values.items() if k in Config.__struct_fields__}
    rest = {k: v for k, v in values.items() if k not in core}
    changed = []
    for gateway in gateways:
        kind = gateway.settings
        if kind is None:
            continue
        mine = {k: rest.pop(k) for k in list(rest) if k in kind.__struct_fields__}
        if mine:
            changed.append(msgspec.structs.replace(config.settings(kind), **mine))
    if rest:
        raise TypeError(f"no such setting: {', '.join(sorted(rest))}")
    return msgspec.structs.replace(config, **core).with_settings(*changed)
