# mypy: disable-error-code="no-untyped-call"
# (Panel and param constructors are untyped: the one relaxation of mypy strict here.)
"""The reading app served by ``workbench serve`` at ``/``: :func:`mount` adds it.

The archive loads :func:`mount` from the ``workbench.apps`` entry-point group and calls
it with its FastAPI application; nothing in the server imports this package. The page
is a Panel application (``panel.io.fastapi``). Its Python side reaches the archive
over HTTP only, as the reader: with the reader's session cookie, forwarded to the
address the page's own request arrived at (the server's socket, never a host named
by the client). The browser fetches pixels and documents itself, on the same origin.

Set ``WORKBENCH_VIEWER_ARCHIVE_URL`` when the archive is not reachable at that address
(e.g. behind TLS terminated in the process).

Under a path prefix (the JupyterHub service ``/services/archive/``, moved into the
request's ``root_path`` by ``server/auth/hub.py:HubServiceMiddleware``, or
``uvicorn --root-path``) every URL the browser is given starts with that prefix
(:func:`browser_root`): DICOMweb (``<prefix>/dicom-web``) and the log-in and log-out
calls. BokehJS, Panel's files and the page's WebSocket are asked for relative to the
page (``static/...``, ``ws``), so they follow the prefix by themselves. The Python
side keeps calling the server's own socket without the prefix, which the archive
serves as well.
"""

from __future__ import annotations

import asyncio
import os
from contextvars import ContextVar
from typing import Any

import httpx
import panel as pn
from fastapi import FastAPI
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from workbench.dicomweb.client import HttpArchiveClient
from workbench.viewer.annotations import AnnotationApi
from workbench.viewer.components import SessionView
from workbench.viewer.hanging_api import ViewingApi
from workbench.viewer.reading import ReadingApp
from workbench.viewer.report_api import CSRF_COOKIE, CSRF_HEADER, ReportApi

__all__ = ["SESSION_COOKIE", "browser_root", "local_origin", "mount", "page"]

SESSION_COOKIE = "wb_session"
"""The archive's browser session cookie (HttpOnly), forwarded by the page's Python side."""
_ORIGIN: ContextVar[str | None] = ContextVar("workbench_viewer_origin", default=None)
_ROOT: ContextVar[str] = ContextVar("workbench_viewer_root", default="")


class _OriginMiddleware:
    """Remember, per request, the address the server itself was reached at and the path
    prefix the browser reached it under (``root_path``).

    Panel's FastAPI integration places its files relative to the whole request path and
    ignores ``root_path``: its own routes (``panel_routes``, the page, ``/ws``,
    ``/static``, ``/components``) are therefore passed on as if served at ``/``, once
    the prefix is remembered. The page then asks for them relative to itself, under the
    prefix.
    """

    def __init__(self, app: ASGIApp, panel_routes: tuple[frozenset[str], tuple[str, ...]] = (
            frozenset(), ())) -> None:
        self.app = app
        self.exact, self.under = panel_routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        server = scope.get("server")
        if server and server[1]:
            host = f"[{server[0]}]" if ":" in str(server[0]) else str(server[0])
            scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
            _ORIGIN.set(f"{scheme}://{host}:{server[1]}")
        root, path = str(scope.get("root_path", "")).rstrip("/"), str(scope["path"])
        _ROOT.set(root)
        if root and path.startswith(root + "/"):
            path = path[len(root):]
            if path in self.exact or path.startswith(self.under):
                scope = dict(scope, path=path, raw_path=path.encode(), root_path="")
        await self.app(scope, receive, send)


def _routes_of(routes: list[BaseRoute]) -> tuple[frozenset[str], tuple[str, ...]]:
    """Paths of ``routes``: exact ones, and the folders of mounts and path parameters."""
    exact, under = set(), []
    for route in routes:
        path = str(getattr(route, "path", ""))
        if isinstance(route, Mount) or "{" in path:
            under.append(path.split("{")[0].rstrip("/") + "/")
        else:
            exact.add(path)
    return frozenset(exact), tuple(under)


def local_origin() -> str | None:
    """The archive's origin for the page's Python side (see the module docstring)."""
    return os.environ.get("WORKBENCH_VIEWER_ARCHIVE_URL") or _ORIGIN.get()


def browser_root() -> str:
    """The path prefix of the page's request without a final slash (``""`` at ``/``):
    the root of every URL the browser is given (see the module docstring)."""
    return _ROOT.get()


def _me(http: httpx.Client) -> dict[str, Any] | None:
    """Who the session belongs to, or None when it is not (or no longer) valid."""
    response = http.get("/api/me")
    if response.status_code != 200:
        return None
    answer: dict[str, Any] = response.json()
    return answer


def page() -> pn.viewable.Viewable:
    """Build one reader's page (a new Panel session)."""
    root = pn.Column(sizing_mode="stretch_both", css_classes=["wb-app"])
    cookie = (pn.state.cookies or {}).get(SESSION_COOKIE)
    origin, prefix = local_origin(), browser_root()
    if not cookie or not origin:
        root.append(SessionView(mode="login", root=prefix))
        return root
    csrf = (pn.state.cookies or {}).get(CSRF_COOKIE)
    # the CSRF token goes with every request: STOW-RS of key images is a change too
    http = httpx.Client(base_url=origin, cookies={SESSION_COOKIE: cookie}, timeout=120,
                        headers={CSRF_HEADER: csrf} if csrf else None)
    client = HttpArchiveClient(origin + "/dicom-web", client=http)
    reports = ReportApi(origin, client=http, csrf=csrf)
    app = ReadingApp(client, dicomweb_root=prefix + "/dicom-web",
                     archive_root=origin + "/dicom-web", reports=reports,
                     hanging=ViewingApi(origin, client=http, csrf=csrf),
                     annotations=AnnotationApi(origin, client=http, csrf=csrf))
    root.append(pn.pane.Str("Loading..."))

    async def start() -> None:
        me = await asyncio.to_thread(_me, http)
        if me is None:
            root.objects = [SessionView(mode="login", root=prefix,
                                        message="Your session has ended: log in again.")]
            return
        app.user = str(me.get("email", ""))
        header = pn.Row(pn.pane.Str("workbench", styles={"font-weight": "600"}),
                        pn.Spacer(), SessionView(mode="account", email=app.user, root=prefix),
                        sizing_mode="stretch_width")
        root.objects = [header, app]
        study = (pn.state.session_args.get("study") or [b""])[0].decode()
        await app._guarded(app.open_study, study) if study else await app._guarded(app.search)

    pn.state.onload(start)
    pn.state.on_session_destroyed(lambda _: http.close())
    return root


def mount(app: FastAPI) -> None:
    """Serve the reading app at ``/`` of the archive's FastAPI application.

    Also serves BokehJS and Panel's static files under ``/static`` and the page's
    WebSocket at ``/ws`` (all of them under the request's ``root_path`` too, see the
    module docstring).
    """
    from panel.io.fastapi import add_applications

    known = set(map(id, app.router.routes))
    add_applications({"/": page}, app=app, title="workbench: reading")
    added = [route for route in app.router.routes if id(route) not in known]
    app.add_middleware(_OriginMiddleware, panel_routes=_routes_of(added))
