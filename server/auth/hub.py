"""JupyterHub as an identity source: a Hub token -> the workbench user mapped to it.

When the archive runs as a JupyterHub service, ``JUPYTERHUB_API_URL`` and
``JUPYTERHUB_API_TOKEN`` are set. A bearer token the archive does not know is then asked
about at the Hub (``GET {api_url}/user`` with ``Authorization: token <token>``); the Hub
answers with the user's name, which maps to ``users.hub_username``. Answers are cached
for :data:`CACHE_S` seconds. A Hub user without a mapped workbench user gets nothing.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from sqlalchemy import Engine, select

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
            pk = conn.execute(select(users.c.pk).where(users.c.hub_username == hub_name)
                              ).scalar()
            if pk is None:
                return None
            return principal_for_user(conn, int(pk), scopes=frozenset(SCOPES), via="hub")
