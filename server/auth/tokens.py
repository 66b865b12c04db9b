"""API tokens: users authenticate with ``Authorization: Bearer <token>``.

Only the SHA-256 of a token is stored. The bootstrap administrator's token comes from
``WORKBENCH_ADMIN_TOKEN`` or is generated once and written to ``<data_dir>/admin-token``
readable by the owner only.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, insert, select, update

from server.db.models import users

ADMIN = "administrator"
ADMIN_NAME = "admin"


@dataclass(frozen=True)
class CurrentUser:
    """Who is asking."""

    pk: int
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        """Whether the user administers the archive."""
        return self.role == ADMIN


def hash_token(token: str) -> str:
    """SHA-256 hex digest of a token (what the index stores)."""
    return hashlib.sha256(token.encode()).hexdigest()


def ensure_admin(engine: Engine, data_dir: Path, token: str | None) -> Path | None:
    """Create or update the bootstrap administrator.

    Parameters
    ----------
    engine
        The index.
    data_dir
        Where ``admin-token`` is written when a token is generated.
    token
        A configured token; None generates one on the first start only.

    Returns
    -------
    Path or None
        The token file when one was written.
    """
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        row = conn.execute(select(users).where(users.c.name == ADMIN_NAME)).first()
        if token is not None:
            digest = hash_token(token)
            if row is None:
                conn.execute(insert(users).values(name=ADMIN_NAME, role=ADMIN,
                                                  token_sha256=digest, created_at=now))
            elif row.token_sha256 != digest:
                conn.execute(update(users).where(users.c.pk == row.pk)
                             .values(token_sha256=digest))
            return None
        token_file = data_dir / "admin-token"
        if row is not None and token_file.exists():
            return None
        generated = secrets.token_urlsafe(32)
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(generated + "\n")
        digest = hash_token(generated)
        if row is None:
            conn.execute(insert(users).values(name=ADMIN_NAME, role=ADMIN, token_sha256=digest,
                                              created_at=now))
        else:
            conn.execute(update(users).where(users.c.pk == row.pk).values(token_sha256=digest))
        return token_file


class TokenCache:
    """Token digest -> user, read from the index once per digest."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._known: dict[str, CurrentUser | None] = {}

    def lookup(self, token: str) -> CurrentUser | None:
        """The user holding ``token``, or None."""
        digest = hash_token(token)
        if digest in self._known:
            return self._known[digest]
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.token_sha256 == digest)).first()
        user = CurrentUser(row.pk, row.name, row.role) if row is not None else None
        if user is not None:
            self._known[digest] = user
        return user

    def clear(self) -> None:
        """Forget cached tokens (after a token changes)."""
        self._known.clear()
