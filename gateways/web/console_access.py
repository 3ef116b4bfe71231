"""Who may use the operator console: signed-in administrators, and only they."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from gateways.kit.principal import once_caught_up
from gateways.kit.refusal import Refusal
from gateways.kit.services import SERVICES
from gateways.web.session import Viewer, checked_form, signed_in
from store.queries.users import is_admin

NOT_ADMIN = "The operator console is for administrators"


async def _admin(request: web.Request, found: Viewer) -> Viewer:
    projection = request.app[SERVICES].projection

    async def admitted() -> bool | None:
        # None rather than False: once_caught_up looks again only after finding nothing.
        return True if await is_admin(projection, found.user_id) else None

    # An admin added a moment ago (the CLI, another replica) may not be folded here yet.
    if not await once_caught_up(request.app, admitted):
        raise Refusal(403, NOT_ADMIN)
    return found


async def admin(request: web.Request) -> Viewer:
    """The signed-in administrator; a redirect to the login page for nobody, 403 for anyone else."""
    return await _admin(request, await signed_in(request))


async def admin_form(request: web.Request, form: Mapping[str, str]) -> Viewer:
    """An administrator posting a form the console showed them: 403 without its CSRF token."""
    return await _admin(request, await checked_form(request, form))
