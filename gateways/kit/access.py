"""One access log line and the request metrics per request, under a request id every answer carries."""

from __future__ import annotations

import logging
import time

from aiohttp import web
from aiohttp.typedefs import Middleware

from core.metrics import Metrics, accepted_id, request_id
from gateways.kit.boundary import Handler, Styles

log = logging.getLogger("mediaplex.access")

HEADER = "X-Request-Id"


def access(styles: Styles, metrics: Metrics | None) -> Middleware:
    """Outermost: it sees the status the error boundary chose, and stamps the id on errors too."""

    @web.middleware
    async def stamp(request: web.Request, handler: Handler) -> web.StreamResponse:
        rid = accepted_id(request.headers.get(HEADER))
        token = request_id.set(rid)
        began = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            # A streamed answer has sent its headers already.
            if not response.prepared:
                response.headers[HEADER] = rid
            return response
        except web.HTTPException as exc:
            status = exc.status
            exc.headers[HEADER] = rid
            raise
        finally:
            request_id.reset(token)
            seconds = time.perf_counter() - began
            resource = request.match_info.route.resource
            # The canonical path, never the raw one: one series per route, not per media id.
            route = resource.canonical if resource is not None else "unmatched"
            gateway = styles.owner(resource)
            if metrics is not None:
                metrics.requests.labels(gateway, route, str(status)).inc()
                metrics.latency.labels(gateway, route).observe(seconds)
            log.info("request_id=%s gateway=%s route=%s method=%s status=%d duration_ms=%.1f",
                     rid, gateway, route, request.method, status, seconds * 1000)

    return stamp
