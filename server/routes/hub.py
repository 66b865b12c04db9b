"""Browsers log in with their JupyterHub identity (the Hub's OAuth, as HubOAuth does).

When the archive runs as a managed Hub service, the Hub gives it an OAuth client
(``JUPYTERHUB_CLIENT_ID``, the service token as secret, ``JUPYTERHUB_OAUTH_CALLBACK_URL``,
by default ``/services/archive/oauth_callback``). ``GET /api/auth/hub`` sends the browser
to the Hub's authorize page; the Hub sends it back to ``/oauth_callback`` with a code,
which the archive redeems for the Hub user's name (server/auth/hub.py), maps to the
workbench user (``users.hub_username``) and turns into an ordinary archive session, its
cookies limited to the service's path. An identity whose token lacks the service's
access scope (``access:services!service=<name>``) is refused (403, naming the scope).
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote, unquote, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from server.auth.hub import HubIdentities
from server.db.accounts import users
from server.db.engine import write_transaction
from server.deps import Services, ServicesDep
from server.routes.auth import denied, open_session, remote_address, set_session_cookies
from server.services.audit import AuditEvent
from workbench.errors import NotFoundError, PermissionDeniedError

router = APIRouter(tags=["Authentication"])
"""Included at the root: ``/api/auth/hub`` and the Hub's redirect URI ``/oauth_callback``."""
HUB_STATE_COOKIE = "wb_hub_state"


def _hub_oauth(services: Services) -> tuple[HubIdentities, str, str]:
    """The Hub, the archive's OAuth client id and callback URL (404 without Hub OAuth)."""
    settings = services.settings
    if services.hub is None or not settings.hub_client_id or not \
            settings.hub_oauth_callback_url:
        raise NotFoundError("this archive does not run as a JupyterHub service with OAuth")
    return services.hub, settings.hub_client_id, settings.hub_oauth_callback_url


@router.get("/api/auth/hub", summary="Log in with the JupyterHub identity (OAuth)")
def hub_login(request: Request, services: ServicesDep, next: str = "/") -> Response:
    """Send the browser to the Hub's authorize page; it comes back to ``/oauth_callback``.

    ``next`` is a path of the archive to return to afterwards.
    """
    _, client_id, callback = _hub_oauth(services)
    settings, state = services.settings, secrets.token_urlsafe(24)
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    authorize = (f"{settings.hub_host.rstrip('/')}/{settings.hub_base_url.strip('/')}"
                 "/hub/api/oauth2/authorize").replace("//hub/", "/hub/")
    query = urlencode({"client_id": client_id, "redirect_uri": callback,
                       "response_type": "code", "state": state})
    response = RedirectResponse(f"{authorize}?{query}", status_code=302)
    response.set_cookie(HUB_STATE_COOKIE, f"{state}.{quote(target, safe='')}", max_age=600,
                        httponly=True, samesite="lax", secure=request.url.scheme == "https",
                        path=request.scope.get("root_path", "") + "/")
    return response


@router.get("/oauth_callback", include_in_schema=False)
async def hub_callback(request: Request, services: ServicesDep, code: str = "",
                       state: str = "") -> Response:
    """The Hub's OAuth redirect: redeem the code, map the Hub user, start a session."""
    hub, client_id, callback = _hub_oauth(services)
    saved, _, target = request.cookies.get(HUB_STATE_COOKIE, "").partition(".")
    if not code or not saved or not secrets.compare_digest(saved, state):
        return denied(400, "the OAuth state does not match: start again at /api/auth/hub")
    try:
        name = await hub.oauth_user(code, client_id, callback)
    except PermissionDeniedError as refused:
        services.audit.record(AuditEvent("login", "hub", "scope", remote=remote_address(request),
                                         detail=str(refused)[:500]))
        return denied(403, str(refused))
    if name is None:
        return denied(403, "the Hub did not confirm your identity")

    def start() -> tuple[Any, str, str] | None:
        with write_transaction(services.engine) as conn:
            pk = hub.user_pk(conn, name)
            if pk is None:
                return None
            user = conn.execute(select(users).where(users.c.pk == pk)).one()
            return (user, *open_session(conn, pk))

    started = await run_in_threadpool(start)
    services.audit.record(AuditEvent(
        "login", f"hub:{name}"[:254], "ok" if started else "unmapped",
        remote=remote_address(request),
        actor_user_pk=started[0].pk if started else None,
        actor_account_pk=started[0].account_pk if started else None))
    if started is None:
        return denied(403, f"no workbench user is mapped to the Hub user {name!r}: ask an "
                            "administrator of your practice to set it on your membership")
    root = request.scope.get("root_path", "")
    response = RedirectResponse(root + (unquote(target) or "/"), status_code=302)
    set_session_cookies(response, request, started[1], started[2])
    response.delete_cookie(HUB_STATE_COOKIE, path=root + "/")
    return response
