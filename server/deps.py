"""FastAPI dependencies: the app's services, who is asking and what they may do."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Query, Request
from pydantic import Field
from sqlalchemy import Engine, select

from server.auth.hub import HubIdentities
from server.auth.limits import LoginLimiter
from server.auth.permissions import Action, Principal, check
from server.auth.tokens import CredentialCache
from server.config import Settings
from server.db.models import studies
from server.db.visibility import study_is_visible
from server.services.audit import AuditLog
from server.services.events import EventBus
from server.services.ingest import Ingestor
from server.services.mail import Mailer
from server.services.payments import PaymentProvider
from server.storage.local import LocalBlobStore
from workbench.errors import NotFoundError, PermissionDeniedError


@dataclass
class Services:
    """Everything a request may need, created once by ``create_app``."""

    settings: Settings
    engine: Engine
    store: LocalBlobStore
    media_store: LocalBlobStore
    events: EventBus
    ingestor: Ingestor
    credentials: CredentialCache
    audit: AuditLog
    mailer: Mailer
    payments: PaymentProvider
    limiter: LoginLimiter
    hub: HubIdentities | None = None


async def get_services(request: Request) -> Services:
    """The application's services (async: no thread hop for a dependency this cheap)."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


MAX_ID = 2**31 - 1
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="a numeric identifier")]
"""A numeric id in a path; bounded so that no value overflows the index's integers."""
IdField = Annotated[int, Field(ge=1, le=MAX_ID)]
"""A numeric id in a request body."""
OffsetQuery = Annotated[int, Query(ge=0, le=MAX_ID, description="results to skip")]

SESSION_COOKIE = "wb_session"
CSRF_COOKIE = "wb_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _unauthenticated(detail: str, error: str | None = None) -> HTTPException:
    challenge = "Bearer" if error is None else f'Bearer error="{error}"'
    return HTTPException(status_code=401, detail=detail,
                         headers={"WWW-Authenticate": challenge})


async def current_principal(request: Request, services: ServicesDep) -> Principal:
    """Who is asking: a bearer token (API token, upload key, Hub token) or a session cookie.

    Session cookies need the CSRF token in ``X-CSRF-Token`` for every unsafe method.
    Async on purpose: a known credential costs one tiny query (the auth generation).
    """
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    principal: Principal | None
    if header:
        if scheme.lower() not in ("bearer", "token") or not token:
            raise _unauthenticated("send Authorization: Bearer <token>", "invalid_request")
        principal = services.credentials.bearer(token)
        if principal is None and services.hub is not None:
            principal = await services.hub.principal(token)
        if principal is None:
            raise _unauthenticated("the bearer token is not valid, expired or revoked",
                                   "invalid_token")
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            raise _unauthenticated(
                "authentication required: log in, or send Authorization: Bearer <token>")
        principal = services.credentials.session(cookie)
        if principal is None:
            raise _unauthenticated("the session has expired: log in again")
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not sent or not secrets.compare_digest(sent, principal.csrf_token or ""):
                raise HTTPException(status_code=403, detail=(
                    "missing or wrong CSRF token: send the wb_csrf cookie's value in "
                    "X-CSRF-Token"))
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def requires(action: Action) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency: the caller, who must be allowed ``action`` (403 naming why)."""

    async def dependency(principal: PrincipalDep) -> Principal:
        check(principal, action)
        return principal

    dependency.__name__ = f"requires_{action.name.lower()}"
    return dependency


Reader = Annotated[Principal, Depends(requires(Action.STUDY_READ))]
Storer = Annotated[Principal, Depends(requires(Action.STUDY_STORE))]
Deleter = Annotated[Principal, Depends(requires(Action.STUDY_DELETE))]
Sharer = Annotated[Principal, Depends(requires(Action.STUDY_SHARE))]
MembersAdmin = Annotated[Principal, Depends(requires(Action.MEMBERS_MANAGE))]
SourcesAdmin = Annotated[Principal, Depends(requires(Action.SOURCES_MANAGE))]
TeamsAdmin = Annotated[Principal, Depends(requires(Action.TEAMS_MANAGE))]
AuditReader = Annotated[Principal, Depends(requires(Action.AUDIT_READ))]
AccountReader = Annotated[Principal, Depends(requires(Action.ACCOUNT_READ))]
AccountUpdater = Annotated[Principal, Depends(requires(Action.ACCOUNT_UPDATE))]
Myself = Annotated[Principal, Depends(requires(Action.SELF))]
Staff = Annotated[Principal, Depends(requires(Action.STAFF))]
MediaDeleter = Annotated[Principal, Depends(requires(Action.STUDY_DELETE))]


def _study_owner(request: Request, services: Services, principal: Principal, study: str
                 ) -> int | None:
    """The account owning ``study`` if ``principal`` sees it, else None; the owner (even of
    a study the caller may not see) is noted for the audit trail."""
    with services.engine.connect() as conn:
        owner = conn.execute(select(studies.c.account_pk)
                             .where(studies.c.study_uid == study)).scalar()
        if owner is None:
            return None
        request.state.audit_account = owner
        if owner == principal.account_pk and principal.sees_own_account:
            return int(owner)
        return int(owner) if study_is_visible(conn, principal, study) else None


async def study_reader(study: str, request: Request, principal: Reader, services: ServicesDep
                       ) -> Principal:
    """The caller, who must see ``study`` (404 otherwise, as if it did not exist)."""
    if _study_owner(request, services, principal, study) is None:
        raise NotFoundError(f"no study {study} is stored")
    return principal


StudyReader = Annotated[Principal, Depends(study_reader)]


async def study_deleter(study: str, request: Request, principal: Deleter,
                        services: ServicesDep) -> Principal:
    """The caller, whose account must own ``study`` (404 if it does not see it at all)."""
    owner = _study_owner(request, services, principal, study)
    if owner is None:
        raise NotFoundError(f"no study {study} is stored")
    if owner != principal.account_pk:
        raise PermissionDeniedError(f"study {study} is shared with you; only the account "
                                    "that owns it may delete from it")
    return principal


StudyDeleter = Annotated[Principal, Depends(study_deleter)]


def public_base(request: Request) -> str:
    """Absolute URL of the application root as clients reach it.

    ``WORKBENCH_PUBLIC_URL`` wins; otherwise the Host header. Some clients (dicomweb-client
    on POST) send a Host without the port: the port the request arrived on is used then.
    """
    configured = request.app.state.services.settings.public_url
    if configured:
        return str(configured).rstrip("/")
    base = str(request.base_url).rstrip("/")
    host = request.headers.get("host", "")
    server = request.scope.get("server")
    if host and ":" not in host.rsplit("]", 1)[-1] and server and server[1] not in (80, 443):
        base = f"{request.url.scheme}://{host}:{server[1]}{request.scope.get('root_path', '')}"
    return base


def dicomweb_base(request: Request) -> str:
    """Absolute URL of the DICOMweb root, as the client reached it."""
    return public_base(request) + "/dicom-web"
