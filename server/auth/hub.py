"""JupyterHub as an identity source: a Hub token -> the workbench user mapped to it.

When the archive runs as a JupyterHub service, ``JUPYTERHUB_API_URL`` and
``JUPYTERHUB_API_TOKEN`` are set. A bearer token the archive does not know is then asked
about at the Hub (``GET {api_url}/user`` with ``Authorization: token <token>``); the Hub
answers with the user's name, which maps to ``users.hub_username``. Answers are cached
for :data:`CACHE_S` seconds. A Hub user without a mapped workbench user gets nothing.
The token must also grant access to this service: the Hub's answer lists the token's
scopes, which must hold ``access:services!service=<name>`` or the broader
``access:services`` (:func:`grants_access`); a token without either is refused with a
403 naming the scope (:class:`~workbench.errors.PermissionDeniedError`).

Browsers log in through the Hub's OAuth (``/api/auth/hub`` -> the Hub's authorize page
-> ``/oauth_callback``, server/routes/auth.py), which starts an ordinary archive session.
Behind the Hub's proxy the archive is reached at ``JUPYTERHUB_SERVICE_PREFIX``
(:class:`HubServiceMiddleware`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import Connection, Engine, select
from starlette.types import ASGIApp, Receive, Scope, Send

from server.asgi_paths import route_path
from server.auth.permissions import SCOPES, Principal
from server.auth.tokens import hash_token, principal_for_user
from server.db.accounts import users
from workbench.errors import PermissionDeniedError

CACHE_S = 60.0
ALL_SERVICES = "access:services"
"""The scope granting access to every Hub service (it covers this one)."""


def access_scope(service: str) -> str:
    """The Hub scope that lets a token reach the service ``service``.

    Examples
    --------
    >>> access_scope("archive")
    'access:services!service=archive'
    """
    return f"{ALL_SERVICES}!service={service}"


def grants_access(scopes: Iterable[str], service: str) -> bool:
    """Whether a token's ``scopes`` (as the Hub lists them) let it reach ``service``.

    Examples
    --------
    >>> grants_access(["self", "access:services!service=archive"], "archive")
    True
    >>> grants_access(["access:services"], "archive")
    True
    >>> grants_access(["access:services!service=other", "read:users"], "archive")
    False
    """
    held = set(scopes)
    return ALL_SERVICES in held or access_scope(service) in held


def _check_access(model: dict[str, Any], service: str) -> None:
    """Refuse (403) a Hub identity whose token lacks the service's access scope."""
    scopes = model.get("scopes")
    if not isinstance(scopes, list) or not grants_access(map(str, scopes), service):
        raise PermissionDeniedError(
            f"the Hub token of {model.get('name')!r} lacks the scope "
            f"{access_scope(service)!r} (or {ALL_SERVICES!r}): grant it to the user's "
            "role in the Hub's configuration (JupyterHub.load_roles)")


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
    service
        The archive's service name at the Hub (``JUPYTERHUB_SERVICE_NAME``): tokens need
        :func:`access_scope` of it.
    """

    def __init__(self, api_url: str, api_token: str, engine: Engine,
                 service: str = "archive") -> None:
        self.api_url = api_url.rstrip("/")
        self.api_token = api_token
        self.engine = engine
        self.service = service
        self._cache: dict[str, tuple[float, Principal | str | None]] = {}

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
        """The workbench principal for a Hub token, or None when the Hub does not know it
        or no workbench user is mapped to its Hub user.

        Raises
        ------
        PermissionDeniedError
            The Hub knows the token, but it lacks the service's access scope.
        """
        key = hash_token(token)
        cached = self._cache.get(key)
        if cached is None or cached[0] <= time.monotonic():
            cached = (time.monotonic() + CACHE_S, await self._resolve(token))
            self._cache[key] = cached
        if isinstance(cached[1], str):
            raise PermissionDeniedError(cached[1])
        return cached[1]

    async def _resolve(self, token: str) -> Principal | str | None:
        """The principal, the reason for a refusal, or None (unknown or unmapped)."""
        try:
            model = await self.hub_user(token)
        except httpx.HTTPError:
            return None
        if model is None or not model.get("name"):
            return None
        try:
            _check_access(model, self.service)
        except PermissionDeniedError as refused:
            return str(refused)
        return await asyncio.get_running_loop().run_in_executor(
            None, self._map, str(model["name"]))

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

        Raises
        ------
        PermissionDeniedError
            The identity's token lacks the service's access scope.
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
        if not model or not model.get("name"):
            return None
        _check_access(model, self.service)
        return str(model["name"])


class HubServiceMiddleware:
    """Serve the archive at the Hub proxy's service prefix as well as at ``/``.

    The Hub's proxy forwards ``/services/archive/...`` with the prefix; it becomes the
    request's ``root_path`` (the path stays whole, as the ASGI specification and
    ``uvicorn --root-path`` have it: Starlette's routes and mounts match the rest,
    :func:`server.asgi_paths.route_path`), and the web apps build their browser URLs on it
    (the reading app: ``workbench/viewer/app.py``). The prefix without its final slash
    is redirected to ``prefix/``, where the page's relative URLs resolve under the
    prefix. A browser opening the app's page (``GET /``) without a valid session (no
    ``wb_session`` cookie, or one that has ended) is sent to the Hub log-in
    (``/api/auth/hub``, with ``next`` keeping the page's query) when OAuth is set up.

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
        path, root = route_path(scope), scope.get("root_path", "")
        if path == self.prefix and scope["type"] == "http":
            query = scope.get("query_string", b"").decode("latin-1")
            await _redirect(send, root + self.prefix + "/" + (f"?{query}" if query else ""))
            return
        if path.startswith(self.prefix + "/"):
            scope = dict(scope, root_path=root + self.prefix)
        if (self.oauth and scope["type"] == "http" and route_path(scope) == "/"
                and scope["method"] == "GET" and not await _has_session(scope)):
            target = scope.get("root_path", "") + "/api/auth/hub"
            query = scope.get("query_string", b"").decode("latin-1")
            await _redirect(send, target + (f"?{urlencode({'next': '/?' + query})}"
                                            if query else ""))
            return
        await self.app(scope, receive, send)


async def _redirect(send: Send, location: str) -> None:
    await send({"type": "http.response.start", "status": 302,
                "headers": [(b"location", location.encode("latin-1")),
                            (b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


def _cookies(scope: Scope) -> bytes:
    return b";".join(v for k, v in scope.get("headers", ()) if k == b"cookie")


async def _has_session(scope: Scope) -> bool:
    """Whether the request carries a browser session the archive still knows."""
    jar = SimpleCookie()
    try:
        jar.load(_cookies(scope).decode("latin-1"))
    except CookieError:
        return False
    cookie = jar.get("wb_session")
    services = getattr(getattr(scope.get("app"), "state", None), "services", None)
    if cookie is None or not cookie.value:
        return False
    if services is None:   # not started (no lifespan): leave the decision to the app
        return True
    principal = await asyncio.get_running_loop().run_in_executor(
        None, services.credentials.session, cookie.value)
    return principal is not None
