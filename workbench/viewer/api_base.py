"""The small JSON API client the page's helpers share (annotations, hanging protocols).

The page's Python side calls the archive's JSON API as the reader: with an API token in
a notebook, or with an ``httpx.Client`` that holds the reader's session cookie in the
app (then changes carry the session's CSRF token).
"""

from __future__ import annotations

from typing import Any

import httpx

from workbench.dicomweb.client import raise_for_response
from workbench.dicomweb.client_base import ArchiveUnavailableError

__all__ = ["JsonApi"]


class JsonApi:
    """Blocking calls to ``<url>/api``; errors raise the :mod:`workbench.errors` type.

    Parameters
    ----------
    url
        The archive's root, e.g. ``"http://127.0.0.1:8042"``.
    token
        An API token (``Authorization: Bearer``); or None with a ``client`` holding the
        reader's session cookie.
    csrf
        The session's CSRF token (``wb_csrf``), sent with changes.
    client
        An ``httpx.Client`` to use and not close.
    timeout
        Seconds per call of a client made here.
    """

    def __init__(self, url: str, *, token: str | None = None, csrf: str | None = None,
                 client: httpx.Client | None = None, timeout: float = 60) -> None:
        self.url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._csrf = {"X-CSRF-Token": csrf} if csrf else {}
        self._owns = client is None
        self._http = client if client is not None else httpx.Client(timeout=timeout)

    def close(self) -> None:
        """Close the connections (unless the client was given)."""
        if self._owns:
            self._http.close()

    def _call(self, method: str, path: str, json: Any = None) -> Any:
        """``method`` ``url/api{path}``; the JSON answer (None for 204 No Content)."""
        headers = dict(self._headers)
        if method != "GET":
            headers.update(self._csrf)
        try:
            response = self._http.request(method, f"{self.url}/api{path}", json=json,
                                          headers=headers)
        except httpx.TransportError as exc:
            raise ArchiveUnavailableError(
                f"cannot reach the archive at {self.url}: {exc or type(exc).__name__}"
            ) from exc
        raise_for_response(response)
        return None if response.status_code == 204 else response.json()
