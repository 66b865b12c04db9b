"""Logging in and out, the caller's profile, and API tokens.

A browser logs in with e-mail and password and receives two cookies: ``wb_session``
(HttpOnly, SameSite=Strict) and ``wb_csrf`` (readable by the page, which echoes it in
``X-CSRF-Token`` on every change). Scripts and notebooks use API tokens instead.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import Connection, delete, insert, select, update

from server.auth.limits import LOCKOUT_AFTER, LOCKOUT_S
from server.auth.passwords import hash_password, password_problem, verify_password
from server.auth.permissions import SCOPES
from server.auth.tokens import bump_generation, hash_token, new_secret, now_utc
from server.db.accounts import api_tokens, sessions, users
from server.db.engine import write_transaction
from server.deps import CSRF_COOKIE, SESSION_COOKIE, IdPath, Myself, ServicesDep
from server.services.accounts import use_link
from server.services.audit import AuditEvent
from workbench.errors import NotFoundError

router = APIRouter(tags=["Authentication"])
SESSION_HOURS = 12


class Login(BaseModel):
    """E-mail and password."""

    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)


class Me(BaseModel):
    """The caller."""

    user_id: int | None
    account_id: int
    account_state: str
    email: str
    roles: list[str]
    is_staff: bool
    via: str
    csrf_token: str | None = None


class NewPassword(BaseModel):
    """The secret of an e-mailed link and the new password."""

    token: str = Field(max_length=200)
    password: str = Field(max_length=1024)


class TokenRequest(BaseModel):
    """An API token to create."""

    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(default_factory=lambda: ["read"])
    expires_in_days: int | None = Field(default=90, ge=1, le=3650)


class TokenInfo(BaseModel):
    """An API token as listed (the secret is shown once, at creation)."""

    id: int
    name: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    token: str | None = None


def remote_address(request: Request) -> str:
    """The client's address, for rate limits and the audit trail."""
    return request.client.host if request.client else ""


def denied(status: int, detail: str, retry_after: int | None = None) -> JSONResponse:
    """A refusal with its reason (and when to retry)."""
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


@router.post("/auth/login", summary="Log in (sets the session cookies)", response_model=Me)
def login(form: Login, request: Request, services: ServicesDep) -> Response:
    """Check e-mail and password; on success start a browser session."""
    remote = remote_address(request)
    wait = services.limiter.retry_after(remote)
    email = form.email.strip().lower()
    audit = services.audit

    def event(outcome: str, user: object = None) -> None:
        audit.record(AuditEvent("login", email[:254], outcome, remote=remote,
                                actor_user_pk=getattr(user, "pk", None),
                                actor_account_pk=getattr(user, "account_pk", None)))

    if wait:
        event("rate-limited")
        return denied(429, "too many login attempts from this address: try again later",
                       wait)
    now = now_utc()
    with write_transaction(services.engine) as conn:
        user = conn.execute(select(users).where(users.c.email == email)).first()
        if user is not None and user.locked_until is not None and user.locked_until > now:
            event("locked", user)
            seconds = int((user.locked_until - now).total_seconds()) + 1
            return denied(429, f"too many failed logins: this user is locked until "
                                f"{user.locked_until:%H:%M} UTC", seconds)
        ok = verify_password(user.password_hash if user is not None else "", form.password)
        if user is None or not ok or not user.active:
            if user is not None:
                failures = user.failed_logins + 1
                locked = now + timedelta(seconds=LOCKOUT_S) if failures >= LOCKOUT_AFTER \
                    else None
                conn.execute(update(users).where(users.c.pk == user.pk).values(
                    failed_logins=0 if locked else failures, locked_until=locked))
            event("failed", user)
            return denied(401, "wrong e-mail address or password")
        conn.execute(update(users).where(users.c.pk == user.pk)
                     .values(failed_logins=0, locked_until=None))
        secret, csrf = open_session(conn, user.pk)
    event("ok", user)
    principal = services.credentials.session(secret)
    assert principal is not None
    body = Me(user_id=user.pk, account_id=user.account_pk,
              account_state=principal.account_state, email=user.email,
              roles=sorted(principal.roles), is_staff=principal.is_staff, via="session",
              csrf_token=csrf)
    response = JSONResponse(body.model_dump())
    set_session_cookies(response, request, secret, csrf)
    return response


def open_session(conn: Connection, user_pk: int) -> tuple[str, str]:
    """Start a browser session for a user: its secret and CSRF token."""
    secret, csrf, now = new_secret(), secrets.token_urlsafe(24), now_utc()
    conn.execute(insert(sessions).values(
        user_pk=user_pk, token_sha256=hash_token(secret), csrf_token=csrf,
        created_at=now, expires_at=now + timedelta(hours=SESSION_HOURS)))
    return secret, csrf


def set_session_cookies(response: Response, request: Request, secret: str, csrf: str) -> None:
    """Set the session cookies, for the path the archive is served at (``/`` or the Hub
    service prefix, so that other Hub paths never receive them)."""
    secure, path = request.url.scheme == "https", request.scope.get("root_path", "") + "/"
    response.set_cookie(SESSION_COOKIE, secret, max_age=SESSION_HOURS * 3600, httponly=True,
                        samesite="strict", secure=secure, path=path)
    response.set_cookie(CSRF_COOKIE, csrf, max_age=SESSION_HOURS * 3600, httponly=False,
                        samesite="strict", secure=secure, path=path)




@router.post("/auth/logout", summary="Log out (ends the browser session)")
def logout(request: Request, services: ServicesDep, me: Myself) -> Response:
    """End the session the request came with (tokens are revoked separately)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with write_transaction(services.engine) as conn:
            conn.execute(delete(sessions).where(sessions.c.token_sha256 == hash_token(cookie)))
            bump_generation(conn)
    response = JSONResponse({"logged_out": True})
    path = request.scope.get("root_path", "") + "/"   # where set_session_cookies set them
    response.delete_cookie(SESSION_COOKIE, path=path)
    response.delete_cookie(CSRF_COOKIE, path=path)
    return response


@router.post("/auth/password", summary="Set a password from an e-mailed link")
def set_password(form: NewPassword, services: ServicesDep) -> dict[str, bool]:
    """Redeem an invitation or reset link and set the password."""
    problem = password_problem(form.password)
    if problem:
        raise ValueError(problem)
    with write_transaction(services.engine) as conn:
        user_pk = use_link(conn, form.token, "password")
        conn.execute(update(users).where(users.c.pk == user_pk).values(
            password_hash=hash_password(form.password), email_confirmed_at=now_utc(),
            failed_logins=0, locked_until=None))
        conn.execute(delete(sessions).where(sessions.c.user_pk == user_pk))
        bump_generation(conn)
    return {"password_set": True}


@router.get("/me", response_model=Me, summary="Who am I")
def me(principal: Myself) -> Me:
    """The caller's identity, account state and roles."""
    return Me(user_id=principal.user_pk, account_id=principal.account_pk,
              account_state=principal.account_state, email=principal.label,
              roles=sorted(principal.roles), is_staff=principal.is_staff, via=principal.via)


def _info(row: Any, token: str | None = None) -> TokenInfo:
    return TokenInfo(id=row.pk, name=row.name, scopes=row.scopes.split(),
                     created_at=row.created_at, expires_at=row.expires_at,
                     revoked_at=row.revoked_at, token=token)


@router.get("/tokens", response_model=list[TokenInfo], summary="My API tokens")
def list_tokens(services: ServicesDep, principal: Myself) -> list[TokenInfo]:
    """The caller's tokens (without their secrets)."""
    with services.engine.connect() as conn:
        rows = conn.execute(select(api_tokens).where(api_tokens.c.user_pk == principal.user_pk)
                            .order_by(api_tokens.c.pk)).fetchall()
    return [_info(r) for r in rows]


@router.post("/tokens", response_model=TokenInfo, status_code=201, summary="Create an API token")
def create_token(form: TokenRequest, services: ServicesDep, principal: Myself) -> TokenInfo:
    """A new token for scripts and notebooks; its secret is in the answer, only this once."""
    unknown = sorted(set(form.scopes) - set(SCOPES))
    if unknown or not form.scopes:
        raise ValueError(f"scopes must be among {', '.join(SCOPES)}; got {form.scopes}")
    if "admin" in form.scopes and "admin" not in principal.scopes:
        raise ValueError("a token without the admin scope cannot create an admin token")
    if principal.user_pk is None:
        raise NotFoundError("only users hold API tokens")
    secret, now = new_secret(), now_utc()
    expires = now + timedelta(days=form.expires_in_days) if form.expires_in_days else None
    with write_transaction(services.engine) as conn:
        pk = conn.execute(insert(api_tokens).values(
            user_pk=principal.user_pk, name=form.name, token_sha256=hash_token(secret),
            scopes=" ".join(sorted(set(form.scopes))), created_at=now, expires_at=expires,
        )).inserted_primary_key[0]  # type: ignore[index]
        row = conn.execute(select(api_tokens).where(api_tokens.c.pk == pk)).one()
    return _info(row, secret)


@router.delete("/tokens/{token_id}", summary="Revoke an API token")
def revoke_token(token_id: IdPath, services: ServicesDep, principal: Myself) -> dict[str, bool]:
    """Revoke one of the caller's tokens; it stops working at once, in every process."""
    with write_transaction(services.engine) as conn:
        done = conn.execute(update(api_tokens).where(
            api_tokens.c.pk == token_id, api_tokens.c.user_pk == principal.user_pk,
            api_tokens.c.revoked_at.is_(None)).values(revoked_at=now_utc())).rowcount
        if not done:
            raise NotFoundError(f"you hold no active API token {token_id}")
        bump_generation(conn)
    return {"revoked": True}
