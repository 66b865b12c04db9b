# mypy: disable-error-code="no-untyped-call"
"""The reading app inside a user's Jupyter server (started by ``jupyter-server-proxy``).

``python -m workbench_jupyter.lab --unix-socket PATH --prefix /user/<name>/workbench``
serves, under ``prefix``:

* the reading app (:class:`workbench.viewer.ReadingApp`, a Panel page), whose Python
  side calls the archive as the user: ``WORKBENCH_URL`` with ``WORKBENCH_TOKEN`` or the
  server's ``JUPYTERHUB_API_TOKEN`` (see :func:`workbench.notebook.find_archive`);
* ``prefix/files?path=P``: the DICOM file or folder ``P`` of the Lab's file browser in
  the viewer, with "Upload to archive" (:mod:`workbench_jupyter.local`);
* ``prefix/dicom-web/...``: the browser's DICOMweb reads (QIDO-RS, WADO-RS, thumbnails),
  forwarded to the archive with the user's credential. The browser so stays on the
  Lab's origin and needs no credential of its own; the Lab's cookies are never
  forwarded. Only ``GET`` and ``HEAD`` pass: a page on another site cannot make the
  user store or delete anything through this process.

Only the user's Jupyter server reaches the process: it listens on a Unix socket in a
folder only the user may open (``jupyter-server-proxy``'s ``unix_socket``), never on a
TCP port other local users could connect to.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from typing import Any

import httpx
import panel as pn
from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse, StreamingResponse
from starlette.background import BackgroundTask
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workbench.dicomweb.client import HttpArchiveClient
from workbench.notebook import find_archive
from workbench.viewer.reading import ReadingApp
from workbench_jupyter import local

__all__ = ["create_app", "main"]

REQUEST_HEADERS = ("accept", "accept-encoding", "if-none-match", "if-modified-since", "range")
"""Request headers passed to the archive (never cookies or the Lab's authorization)."""
RESPONSE_HEADERS = ("content-type", "content-length", "content-encoding", "content-range",
                    "accept-ranges", "etag", "last-modified", "cache-control",
                    "content-disposition", "warning")
"""Response headers passed back to the browser."""


def _forwarder(app: FastAPI, prefix: str, archive: str, token: str | None) -> None:
    """Add ``prefix/dicom-web/{path}``: read-only DICOMweb forwarded as the user."""
    http = httpx.AsyncClient(timeout=httpx.Timeout(120.0, connect=10.0))
    credential = {"authorization": f"Bearer {token}"} if token else {}

    @app.api_route(prefix + "/dicom-web/{path:path}", methods=["GET", "HEAD"],
                   include_in_schema=False)
    async def forward(path: str, request: Request) -> Response:
        headers = {k: v for k, v in request.headers.items() if k.lower() in REQUEST_HEADERS}
        outgoing = http.build_request(request.method, f"{archive}/dicom-web/{path}",
                                      params=str(request.query_params),
                                      headers={**headers, **credential})
        try:
            answer = await http.send(outgoing, stream=True)
        except httpx.HTTPError as error:
            return PlainTextResponse(f"the archive at {archive} is not reachable: {error}",
                                     status_code=502)
        passed = {k: v for k, v in answer.headers.items() if k.lower() in RESPONSE_HEADERS}
        return StreamingResponse(answer.aiter_raw(), status_code=answer.status_code,
                                 headers=passed, background=BackgroundTask(answer.aclose))

    app.router.on_shutdown.append(http.aclose)


def _me(http: httpx.Client) -> tuple[dict[str, Any] | None, str]:
    """The archive's ``/api/me`` for the user's credential, or None and why not."""
    try:
        response = http.get("/api/me")
    except httpx.HTTPError as error:
        return None, f"The archive is not reachable: {error}"
    if response.status_code == 403:   # e.g. the token lacks the archive's access scope
        detail = response.json().get("detail", "") if response.headers.get(
            "content-type", "").startswith("application/json") else ""
        return None, f"The archive refused your Hub token: {detail or response.text[:300]}"
    if response.status_code != 200:
        return None, ("The archive does not know your Hub user: ask an administrator of "
                      "your practice to set your Hub user name on your membership.")
    answer: dict[str, Any] = response.json()
    return answer, ""


def _page_factory(prefix: str, archive: str, token: str | None) -> Any:
    def page() -> pn.viewable.Viewable:
        """One reader's page (a Panel session)."""
        root = pn.Column(pn.pane.Str("Loading..."), sizing_mode="stretch_both",
                         css_classes=["wb-app"])
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        http = httpx.Client(base_url=archive, headers=headers, timeout=120)
        client = HttpArchiveClient(archive + "/dicom-web", client=http)
        app = ReadingApp(client, dicomweb_root=prefix + "/dicom-web",
                         archive_root=archive + "/dicom-web")

        async def start() -> None:
            me, problem = await asyncio.to_thread(_me, http)
            if me is None:
                root.objects = [pn.pane.Str(problem, css_classes=["wb-problem"])]
                return
            app.user = str(me.get("email", ""))
            header = pn.Row(pn.pane.Str("workbench", styles={"font-weight": "600"}),
                            pn.Spacer(), pn.pane.Str(app.user, css_classes=["wb-account"]),
                            sizing_mode="stretch_width")
            root.objects = [header, app]
            study = (pn.state.session_args.get("study") or [b""])[0].decode()
            await app._guarded(app.open_study, study) if study else await app._guarded(
                app.search)

        pn.state.onload(start)
        pn.state.on_session_destroyed(lambda _: http.close())
        return root

    return page


def _uploader(archive: str, token: str | None) -> Any:
    """A factory of the user's archive client for "Upload to archive" (and its closer)."""

    def factory() -> tuple[HttpArchiveClient, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        http = httpx.Client(base_url=archive, headers=headers, timeout=300)
        return HttpArchiveClient(archive + "/dicom-web", client=http), http.close

    return factory


class _UnderPrefix:
    """Match the proxy's paths to Panel's routes.

    Panel registers the page at ``prefix`` exactly (the proxy opens ``prefix/``) and
    serves BokehJS and its own files at ``/static`` whatever the prefix, while the page
    asks for them relative to itself (``prefix/static/...``).
    """

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app, self.prefix = app, prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path == self.prefix + "/":
            scope = dict(scope, path=self.prefix, raw_path=self.prefix.encode())
        elif scope["type"] == "http" and path.startswith(self.prefix + "/static/"):
            path = path[len(self.prefix):]
            scope = dict(scope, path=path, raw_path=path.encode())
        await self.app(scope, receive, send)


class _FramedBySameOrigin:
    """Every answer may be framed by the Lab only (``frame-ancestors 'self'``): the Lab's
    "Open in workbench" shows the app in an iframe of the same origin, and no other site
    may frame it (the page acts with the user's archive credential)."""

    HEADER = (b"content-security-policy", b"frame-ancestors 'self'")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def framed(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", [])
                           if h[0].lower() != self.HEADER[0]]
                message = {**message, "headers": [*headers, self.HEADER]}
            await send(message)

        await self.app(scope, receive, framed)


def create_app(prefix: str, archive: str | None = None, token: str | None = None) -> FastAPI:
    """The in-Lab application: the reading page and the DICOMweb forwarder at ``prefix``.

    Parameters
    ----------
    prefix
        The path the proxy serves the app at, e.g. ``/user/alice/workbench``.
    archive, token
        The archive's root and the user's credential; default: from the environment
        (:func:`workbench.notebook.find_archive`).

    Returns
    -------
    FastAPI
        The application, to be served by uvicorn.
    """
    from panel.io.fastapi import add_applications

    if archive is None:
        archive, found = find_archive()
        token = token or found
    prefix = "/" + prefix.strip("/")
    archive = archive.rstrip("/")
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    _forwarder(app, prefix, archive, token)
    add_applications({"/": _page_factory(prefix, archive, token),
                      "/files": local.page_factory(_uploader(archive, token))},
                     app=app, prefix=prefix, title="workbench: reading",
                     websocket_origin="*")
    app.add_middleware(_UnderPrefix, prefix=prefix)
    app.add_middleware(_FramedBySameOrigin)
    return app


def main(argv: Sequence[str] | None = None) -> None:
    """Run the in-Lab app (the ``jupyter-server-proxy`` command)."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--unix-socket", help="listen on this Unix socket")
    where.add_argument("--port", type=int, help="listen on 127.0.0.1:PORT")
    parser.add_argument("--prefix", required=True, help="path the app is served at")
    args = parser.parse_args(argv)
    app = create_app(args.prefix)
    if args.unix_socket:
        uvicorn.run(app, uds=args.unix_socket, log_level="warning")
    else:
        uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
