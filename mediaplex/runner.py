"""The aiohttp runner the server listens with, answering what its HTTP parser refuses as JSON.

A request the parser cannot read (a request line or header over its limit, a header with a NUL, two
Content-Lengths) never reaches a route or a middleware: aiohttp answers it itself, in text/plain, with
the offending bytes quoted back. Every client of every gateway reads {"error": "..."} (the shape
Mastodon and pump.io share), so these answers take that shape too, with the same status.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

TOO_LONG = "The request line or a header is too long"
NOT_HTTP = "The request is not valid HTTP/1.1"


class _JsonRefusals(RequestHandler):
    def handle_error(self, request: BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if status >= 500:
            # A fault here: aiohttp logs its traceback, and refuses to answer twice on a broken connection.
            super().handle_error(request, status, exc, message)
            text = HTTPStatus(status).phrase
        else:
            # The client's malformed request: one line, not the traceback aiohttp would log for it.
            self.logger.info("refused by the HTTP parser: %s from %s", type(exc).__name__, request.remote)
            text = TOO_LONG if isinstance(exc, LineTooLong) else NOT_HTTP
        response = web.json_response({"error": text}, status=status)
        response.force_close()
        return response


class _Server(web.Server):
    def __call__(self) -> RequestHandler:
        return _JsonRefusals(self, loop=self._loop, **self._kwargs)


class AppRunner(web.AppRunner):
    """`web.AppRunner`, whose connections answer the parser's refusals as JSON."""

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()
        kwargs: dict[str, Any] = made._kwargs
        return _Server(made.request_handler, request_factory=made.request_factory, loop=made._loop, **kwargs)
