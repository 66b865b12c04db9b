"""FastAPI dependencies: the app's services and the current user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy import Engine

from server.auth.tokens import CurrentUser, TokenCache
from server.config import Settings
from server.services.events import EventBus
from server.services.ingest import Ingestor
from server.storage.local import LocalBlobStore


@dataclass
class Services:
    """Everything a request may need, created once by ``create_app``."""

    settings: Settings
    engine: Engine
    store: LocalBlobStore
    events: EventBus
    ingestor: Ingestor
    tokens: TokenCache


async def get_services(request: Request) -> Services:
    """The application's services (async: no thread hop for a dependency this cheap)."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def current_user(request: Request, services: ServicesDep) -> CurrentUser:
    """The authenticated caller; 401 without a valid bearer token.

    Async on purpose: known tokens are answered from memory without a thread hop; an
    unknown token costs one indexed lookup on the event loop, once per token and process.
    """
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(
            status_code=401,
            detail="authentication required: send Authorization: Bearer <token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    user = services.tokens.lookup(token.strip())
    if user is None:
        raise HTTPException(
            status_code=401,
            detail="the bearer token is not valid",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return user


UserDep = Annotated[CurrentUser, Depends(current_user)]


async def admin_user(user: UserDep) -> CurrentUser:
    """The caller, who must be an administrator (403 otherwise)."""
    if not user.is_admin:
        raise HTTPException(status_code=403, detail="only administrators may do this")
    return user


AdminDep = Annotated[CurrentUser, Depends(admin_user)]


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
