"""Bearer tokens and sessions -> :class:`Principal`, and the bootstrap administrator.

Only SHA-256 digests of secrets are stored. Resolving a credential costs a few indexed
lookups, so each process caches the answer; the cache is dropped whenever the
``auth_state.generation`` counter changes, which every change to credentials, roles,
teams or account states bumps (:func:`bump_generation`, in the same transaction). So a
revoked token stops working on the next request, in every worker process.

The bootstrap administrator (``admin@localhost``) is the primary administrator of the
installation's own account (pk 1, "Local practice") and a staff member. Its token comes
from ``WORKBENCH_ADMIN_TOKEN`` or is generated once into ``<data_dir>/admin-token``.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from server.auth.permissions import SCOPES, Principal, Role
from server.db.accounts import (
    accounts,
    api_tokens,
    auth_state,
    sessions,
    sources,
    team_members,
    users,
)

LOCAL_ACCOUNT = 1
ADMIN_EMAIL = "admin@localhost"


def now_utc() -> datetime:
    """Naive UTC now (what the index stores)."""
    return datetime.now(UTC).replace(tzinfo=None)


def hash_token(token: str) -> str:
    """SHA-256 hex digest of a secret (what the index stores)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_secret() -> str:
    """A fresh URL-safe secret of 256 bits that does not begin with ``-``.

    One in 64 URL-safe secrets would, and a command line then reads it as an option
    (``workbench billing run --token -Xy...`` fails in argparse); drawing again costs
    nothing that matters (the choice of the first character loses 0.02 bits).
    """
    while (secret := secrets.token_urlsafe(32)).startswith("-"):
        pass
    return secret


def bump_generation(conn: Connection) -> None:
    """Tell every process that credentials, roles or account states changed."""
    conn.execute(update(auth_state).where(auth_state.c.pk == 1)
                 .values(generation=auth_state.c.generation + 1))


def ensure_admin(engine: Engine, data_dir: Path, token: str | None) -> Path | None:
    """Create the local account's primary administrator and its token.

    Parameters
    ----------
    engine
        The index (migrated).
    data_dir
        Where ``admin-token`` is written when a token is generated.
    token
        A configured token; None generates one on the first start only.

    Returns
    -------
    Path or None
        The token file when one was written.
    """
    now = now_utc()
    token_file = data_dir / "admin-token"
    with engine.begin() as conn:
        row = conn.execute(select(users.c.pk).where(users.c.email == ADMIN_EMAIL)).first()
        if row is None:
            user_pk = int(conn.execute(insert(users).values(
                account_pk=LOCAL_ACCOUNT, email=ADMIN_EMAIL, name="Administrator",
                roles=f"{Role.ADMINISTRATOR} {Role.READING_PHYSICIAN}", is_primary=True,
                is_staff=True, email_confirmed_at=now, created_at=now,
            )).inserted_primary_key[0])  # type: ignore[index]
        else:
            user_pk = int(row.pk)
        existing = conn.execute(select(api_tokens.c.pk, api_tokens.c.token_sha256).where(
            api_tokens.c.user_pk == user_pk, api_tokens.c.name == "bootstrap")).first()
        if token is None:
            if existing is not None and token_file.exists():
                return None
            token = new_secret()
            fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(token + "\n")
            written: Path | None = token_file
        else:
            written = None
        digest = hash_token(token)
        if existing is None:
            conn.execute(insert(api_tokens).values(user_pk=user_pk, name="bootstrap",
                                                   token_sha256=digest,
                                                   scopes=" ".join(SCOPES), created_at=now))
        elif existing.token_sha256 != digest:
            conn.execute(update(api_tokens).where(api_tokens.c.pk == existing.pk)
                         .values(token_sha256=digest, revoked_at=None))
        bump_generation(conn)
        return written


def principal_for_user(conn: Connection, user_pk: int, *, scopes: frozenset[str],
                       via: str, csrf_token: str | None = None) -> Principal | None:
    """The principal of an active user of an existing account, or None."""
    row = conn.execute(
        select(users, accounts.c.state.label("account_state"))
        .join(accounts, accounts.c.pk == users.c.account_pk)
        .where(users.c.pk == user_pk)).first()
    if row is None or not row.active:
        return None
    teams = conn.execute(select(team_members.c.team_pk, team_members.c.role)
                         .where(team_members.c.user_pk == user_pk)).fetchall()
    return Principal(
        user_pk=user_pk, account_pk=row.account_pk, account_state=row.account_state,
        label=row.email, roles=frozenset(row.roles.split()), scopes=scopes,
        is_staff=bool(row.is_staff),
        reader_teams=tuple(sorted(t.team_pk for t in teams if t.role == "reader")),
        sender_teams=tuple(sorted(t.team_pk for t in teams if t.role == "sender")),
        via=via, csrf_token=csrf_token)


GENERATION_SQL = "SELECT generation FROM auth_state WHERE pk = 1"


class GenerationReader:
    """Read ``auth_state.generation`` as cheaply as the database allows.

    Every request asks, so this skips the connection pool and SQLAlchemy: each thread
    keeps one DB-API connection of its own, detached from the pool and in autocommit, so
    each read sees the latest committed value (SQLite in WAL mode without a transaction;
    PostgreSQL in autocommit). About 10 microseconds on SQLite instead of ~0.4 ms through
    a pooled SQLAlchemy connection. A connection that fails is dropped and reopened once.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()
        self._opened: list[Any] = []
        self._opened_lock = threading.Lock()

    def _connection(self) -> Any:
        raw = getattr(self._local, "connection", None)
        if raw is None:
            fairy = self.engine.raw_connection()
            fairy.detach()  # ours for the thread's life, not the pool's
            raw = fairy.dbapi_connection
            if raw is None:
                raise RuntimeError("the database driver gave no connection")
            if self.engine.dialect.name == "postgresql":
                raw.autocommit = True
            self._local.connection = raw
            with self._opened_lock:
                self._opened.append(raw)
        return raw

    def close(self) -> None:
        """Close every thread's connection (at shutdown)."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for raw in opened:
            try:
                raw.close()
            except Exception:  # closing from another thread may be refused; it goes anyway
                pass
        self._local = threading.local()

    def read(self) -> int:
        """The current generation (0 when the row is missing)."""
        for attempt in (1, 2):
            raw = self._connection()
            try:
                cursor = raw.cursor()
                try:
                    cursor.execute(GENERATION_SQL)
                    row = cursor.fetchone()
                finally:
                    cursor.close()
                return int(row[0]) if row and row[0] is not None else 0
            except Exception:
                self._local.connection = None
                with self._opened_lock:
                    if raw in self._opened:
                        self._opened.remove(raw)
                try:
                    raw.close()
                except Exception:  # already broken
                    pass
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


class CredentialCache:
    """Resolve bearer tokens and session cookies, caching per process and generation."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock()
        self._generation = -1
        self._known: dict[str, tuple[Principal, datetime | None]] = {}
        self._reader = GenerationReader(engine)

    def close(self) -> None:
        """Release the connections the generation reads use."""
        self._reader.close()

    def _fresh(self) -> None:
        generation = self._reader.read()
        with self._lock:
            if generation != self._generation:
                self._known.clear()
                self._generation = generation

    def bearer(self, token: str) -> Principal | None:
        """The principal holding an API token or upload key; None if unknown or expired."""
        return self._resolve("t:" + hash_token(token), self._token)

    def session(self, cookie: str) -> Principal | None:
        """The principal of a browser session cookie; None if unknown or expired."""
        return self._resolve("s:" + hash_token(cookie), self._session)

    def _resolve(self, key: str, load: Any) -> Principal | None:
        now = now_utc()
        self._fresh()
        cached = self._known.get(key)
        if cached is None:
            with self.engine.connect() as conn:
                loaded = load(conn, key[2:], now)
            if loaded is None:
                return None
            cached = loaded
            with self._lock:
                self._known[key] = cached
        principal, expires = cached
        if expires is not None and expires <= now:
            return None
        return principal

    @staticmethod
    def _token(conn: Connection, digest: str, now: datetime
               ) -> tuple[Principal, datetime | None] | None:
        row = conn.execute(select(api_tokens).where(api_tokens.c.token_sha256 == digest)).first()
        if row is None or row.revoked_at is not None:
            return None
        if row.expires_at is not None and row.expires_at <= now:
            return None
        if row.source_pk is not None:
            source = conn.execute(
                select(sources, accounts.c.state.label("account_state"))
                .join(accounts, accounts.c.pk == sources.c.account_pk)
                .where(sources.c.pk == row.source_pk)).first()
            if source is None or not source.active:
                return None
            return Principal(user_pk=None, account_pk=source.account_pk,
                             account_state=source.account_state,
                             label=f"source:{source.name}", source_pk=source.pk,
                             source_team_pk=source.team_pk, via="upload-key"), row.expires_at
        principal = principal_for_user(conn, row.user_pk, scopes=frozenset(row.scopes.split()),
                                       via="token")
        return None if principal is None else (principal, row.expires_at)

    @staticmethod
    def _session(conn: Connection, digest: str, now: datetime
                 ) -> tuple[Principal, datetime | None] | None:
        row = conn.execute(select(sessions).where(sessions.c.token_sha256 == digest)).first()
        if row is None or row.expires_at <= now:
            return None
        principal = principal_for_user(conn, row.user_pk, scopes=frozenset(SCOPES),
                                       via="session", csrf_token=row.csrf_token)
        return None if principal is None else (principal, row.expires_at)
