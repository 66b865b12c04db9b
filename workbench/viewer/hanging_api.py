"""Where the viewer gets hanging protocols and viewing preferences from.

:class:`ViewingApi` reads and writes them in the archive (``/api/me/hanging-protocols``,
``/api/me/preferences``, see ``server/routes/preferences.py``) over HTTP, as the reader;
:class:`LocalProtocols` keeps them in memory (the shipped protocols plus any added),
for notebooks without an archive API and for tests. Both satisfy
:class:`ProtocolSource`. Calls block: the reading app runs them on a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from workbench.dicomweb.client import raise_for_response
from workbench.dicomweb.client_base import ArchiveUnavailableError
from workbench.hanging import HangingProtocol, ViewingPreferences, default_protocols

__all__ = ["LocalProtocols", "ProtocolSource", "ViewingApi"]


class ProtocolSource(Protocol):
    """Hanging protocols and preferences of one reader."""

    def protocols(self) -> list[tuple[HangingProtocol, bool]]:
        """``(protocol, own)`` in matching order: the reader's own first, then shipped."""
        ...

    def save_protocol(self, protocol: HangingProtocol) -> None:
        """Create or replace the reader's protocol of that name."""
        ...

    def preferences(self) -> ViewingPreferences:
        """The reader's viewing preferences."""
        ...

    def roles(self) -> frozenset[str]:
        """The reader's roles (``referring_physician`` opens on key images first)."""
        ...


class LocalProtocols:
    """Protocols in memory: ``own`` (newest first) before the shipped defaults.

    Examples
    --------
    >>> source = LocalProtocols()
    >>> [p.name for p, own in source.protocols()][:1]
    ['CT chest with prior']
    """

    def __init__(self, own: Sequence[HangingProtocol] = (),
                 preferences: ViewingPreferences | None = None,
                 roles: Sequence[str] = ("reading_physician",)) -> None:
        self.own = list(own)
        self._preferences = preferences or ViewingPreferences()
        self._roles = frozenset(roles)

    def protocols(self) -> list[tuple[HangingProtocol, bool]]:
        """The own protocols, then the shipped ones."""
        return [(p, True) for p in self.own] + [(p, False) for p in default_protocols()]

    def save_protocol(self, protocol: HangingProtocol) -> None:
        """Replace the own protocol of the same name, or add it first."""
        self.own = [protocol] + [p for p in self.own if p.name != protocol.name]

    def preferences(self) -> ViewingPreferences:
        """The preferences given."""
        return self._preferences

    def roles(self) -> frozenset[str]:
        """The roles given."""
        return self._roles


class ViewingApi:
    """The archive's preference routes, as one reader.

    Parameters
    ----------
    url
        The archive's root, e.g. ``"http://127.0.0.1:8042"`` (the API is at ``url/api``).
    token
        An API token (``Authorization: Bearer``); or None with a ``client`` holding the
        reader's session cookie.
    csrf
        The session's CSRF token (``wb_csrf``), sent with changes.
    client
        An ``httpx.Client`` to use and not close.
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
        return response.json()

    def protocols(self) -> list[tuple[HangingProtocol, bool]]:
        """``GET /api/me/hanging-protocols``: own first, then shipped."""
        return [(HangingProtocol.model_validate(entry["protocol"]), bool(entry["own"]))
                for entry in self._call("GET", "/me/hanging-protocols")]

    def save_protocol(self, protocol: HangingProtocol) -> None:
        """``PUT /api/me/hanging-protocols/{name}``."""
        self._call("PUT", f"/me/hanging-protocols/{quote(protocol.name, safe='')}",
                   json=protocol.model_dump(mode="json"))

    def preferences(self) -> ViewingPreferences:
        """``GET /api/me/preferences``."""
        return ViewingPreferences.model_validate(self._call("GET", "/me/preferences"))

    def roles(self) -> frozenset[str]:
        """``GET /api/me``: the reader's roles."""
        return frozenset(str(r) for r in self._call("GET", "/me").get("roles", []))
