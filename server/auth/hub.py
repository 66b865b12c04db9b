"""JupyterHub as an identity source: a Hub token -> the workbench user mapped to it.

When the archive runs as a JupyterHub service, ``JUPYTERHUB_API_URL`` and
``JUPYTERHUB_API_TOKEN`` are set. A bearer token the archive does not know is then asked
about at the Hub (``GET {api_url}/user`` with ``Authorization: token <token>``); the Hub
answers with the user's name, which maps to ``users.hub_username``. Answers are cached
for :data:`CACHE_S` seconds. A Hub user without a mapped workbench user gets nothing.

Browsers log in through the Hub's OAuth (``/api/auth/hub`` -> the Hub's authorize page
-> ``/oauth_callback``, server/routes/auth.py), which starts an ordinary archive session.
Behind the Hub's proxy the archive is reached at ``JUPYTERHUB_SERVICE_PREFIX``
(:class:`HubServiceMiddleware`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from sqlalchemy import Connection, Engine, select
from starlette.types import ASGIApp, Receive, Scope, Send

from server.auth.permissions import SCOPES, Principal
from server.auth.tokens import hash_token, principal_for_user
from server.db.accounts import users

CACHE_S = 60.0


class HubIdentities:
    """Resolve Hub tokens through the Hub's REST API.

    Parameters
    ----------
    api_url
        ``JUPYTERHUB_API_URL``, e.g. ``http://127.0.0.1:8081/hub/api``.
    api_token
        The service's own token (``JUPYTERHUB_API_TOKEN``).
    engine
        The index, to map Hub user names to workbench users.
    """

    def __init__(self, api_url: str, api_token: str, engine: Engine) -> None:
        self.api_url = api_url.rstrip("/")
        self.api_token = api_token
        self.engine = engine
        self._cache: dict[str, tuple[float, Principal | None]] = {}

    async def hub_user(self, token: str) -> dict[str, Any] | None:
        """The Hub's model of the user holding ``token``, or None."""
        async with httpx.AsyncClient(timeout=5.0) as client:
            response = await client.get(f"{self.api_url}/user",
                                        headers={"Authorization": f"token {token}"})
        if response.status_code != 200:
            return None
        model: dict[str, Any] = response.json()
        return model

    async def principal(self, token: str) -> Principal | None:
        """The workbench principal for a Hub token, or None."""
        key = hash_token(token)
        cached = self._cache.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        try:
            model = await self.hub_user(token)
        except httpx.HTTPError:
            return None
        principal = None
        if model is not None and model.get("name"):
            principal = await asyncio.get_running_loop().run_in_executor(
                None, self._map, str(model["name"]))
        self._cache[key] = (time.monotonic() + CACHE_S, principal)
        return principal

    def _map(self, hub_name: str) -> Principal | None:
        with self.engine.connect() as conn:
            pk = self.user_pk(conn, hub_name)
            if pk is None:
                return None
            return principal_for_user(conn, pk, scopes=frozenset(SCOPES), via="hub")

    @staticmethod
    def user_pk(conn: Connection, hub_name: str) -> int | None:
        """The active workbench user mapped to the Hub user ``hub_name``, or None."""
        pk = conn.execute(select(users.c.pk).where(users.c.hub_username == hub_name,
                                                   users.c.active.is_(True))).scalar()
        return None if pk is None else int(pk)

    async def oauth_user(self, code: str, client_id: str, redirect_uri: str) -> str | None:
        """Redeem an OAuth authorization code at the Hub; the Hub user's name, or None.

        The archive's service token is its client secret (JupyterHub's HubOAuth flow).
        """
        form = {"client_id": client_id, "client_secret": self.api_token, "code": code,
                "grant_type": "authorization_code", "redirect_uri": redirect_uri}
        try:
            async with httpx.AsyncClient(timeout=10.0) as client:
                response = await client.post(f"{self.api_url}/oauth2/token", data=form)
            if response.status_code != 200:
                return None
            model = await self.hub_user(str(response.json()["access_token"]))
        except (httpx.HTTPError, KeyError, ValueError):
            return None
        return str(model["name"]) if model and model.get("name") else None


class HubServiceMiddleware:
    """Serve the archive at the Hub proxy's service prefix as well as at ``/``.

    The Hub's proxy forwards ``/services/archive/...`` with the prefix; it is moved to
    ``root_path`` so the routes match. A browser opening the app's page (``GET /``)
    without a session is sent to the Hub log-in (``/api/auth/hub``) when OAuth is set up.

    Parameters
    ----------
    app
        The ASGI application.
    prefix
        ``JUPYTERHUB_SERVICE_PREFIX``, e.g. ``/services/archive/``.
    oauth
        Whether browsers log in through the Hub.
    """

    def __init__(self, app: ASGIApp, prefix: str, oauth: bool = False) -> None:
        self.app = app
        self.prefix = "/" + prefix.strip("/")
        self.oauth = oauth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == self.prefix or path.startswith(self.prefix + "/"):
            scope = dict(scope, path=path[len(self.prefix):] or "/",
                         root_path=scope.get("root_path", "") + self.prefix)
            if scope.get("raw_path"):
                scope["raw_path"] = scope["raw_path"][len(self.prefix):] or b"/"
        if (self.oauth and scope["type"] == "http" and scope["path"] == "/"
                and scope["method"] == "GET" and b"wb_session=" not in _cookies(scope)):
            target = scope.get("root_path", "") + "/api/auth/hub"
            await send({"type": "http.response.start", "status": 302,
                        "headers": [(b"location", target.encode()),
                                    (b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send)


def _cookies(scope: Scope) -> bytes:
    return b";".join(v for k, v in scope.get("headers", ()) if k == b"cookie")
