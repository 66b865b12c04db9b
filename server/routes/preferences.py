"""A user's viewing preferences and hanging protocols, kept in the archive.

The viewer reads them on start and saves what the physician changes ("save this
hanging"). Protocols are validated by ``workbench.hanging``; the shipped defaults are
listed after the user's own, which win ties.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path
from pydantic import BaseModel
from sqlalchemy import delete, insert, select, update

from server.auth.permissions import Principal
from server.auth.tokens import now_utc
from server.db.engine import write_transaction
from server.db.settings import user_settings
from server.deps import Myself, ServicesDep
from workbench.errors import NotFoundError
from workbench.hanging import HangingProtocol, ViewingPreferences, default_protocols

router = APIRouter(tags=["Viewing preferences"])
NameParam = Path(min_length=1, max_length=100, description="the protocol's name")


class ProtocolEntry(BaseModel):
    """A protocol and whether it is the user's own or shipped."""

    own: bool
    protocol: HangingProtocol


def _user(principal: Principal) -> int:
    if principal.user_pk is None:
        raise NotFoundError("only users have preferences")
    return principal.user_pk


def _save(services: Any, user_pk: int, kind: str, name: str, body: str) -> None:
    with write_transaction(services.engine) as conn:
        done = conn.execute(update(user_settings).where(
            user_settings.c.user_pk == user_pk, user_settings.c.kind == kind,
            user_settings.c.name == name).values(body=body, updated_at=now_utc())).rowcount
        if not done:
            conn.execute(insert(user_settings).values(user_pk=user_pk, kind=kind, name=name,
                                                      body=body, updated_at=now_utc()))


@router.get("/me/preferences", response_model=ViewingPreferences,
            summary="My viewing preferences")
def get_preferences(services: ServicesDep, principal: Myself) -> ViewingPreferences:
    """The caller's preferences (defaults until saved)."""
    with services.engine.connect() as conn:
        body = conn.execute(select(user_settings.c.body).where(
            user_settings.c.user_pk == _user(principal),
            user_settings.c.kind == "preferences")).scalar()
    return ViewingPreferences.model_validate_json(body) if body else ViewingPreferences()


@router.put("/me/preferences", response_model=ViewingPreferences,
            summary="Save my viewing preferences")
def put_preferences(form: ViewingPreferences, services: ServicesDep, principal: Myself
                    ) -> ViewingPreferences:
    """Replace the caller's preferences."""
    _save(services, _user(principal), "preferences", "", form.model_dump_json())
    return form


@router.get("/me/hanging-protocols", response_model=list[ProtocolEntry],
            summary="My hanging protocols, then the shipped ones")
def list_protocols(services: ServicesDep, principal: Myself) -> list[ProtocolEntry]:
    """In matching order: the caller's own (they win ties), then the defaults."""
    with services.engine.connect() as conn:
        rows = conn.execute(select(user_settings.c.body).where(
            user_settings.c.user_pk == _user(principal), user_settings.c.kind == "protocol")
            .order_by(user_settings.c.updated_at.desc())).scalars().all()
    own = [ProtocolEntry(own=True, protocol=HangingProtocol.model_validate_json(b))
           for b in rows]
    return own + [ProtocolEntry(own=False, protocol=p) for p in default_protocols()]


@router.put("/me/hanging-protocols/{name}", response_model=ProtocolEntry,
            summary="Save one of my hanging protocols")
def put_protocol(protocol: HangingProtocol, services: ServicesDep, principal: Myself,
                 name: str = NameParam) -> ProtocolEntry:
    """Create or replace the caller's protocol called ``name`` (the body's name wins)."""
    if protocol.name != name:
        raise ValueError(f"the protocol is called {protocol.name!r}, not {name!r}")
    _save(services, _user(principal), "protocol", name, protocol.model_dump_json())
    return ProtocolEntry(own=True, protocol=protocol)


@router.delete("/me/hanging-protocols/{name}", summary="Delete one of my hanging protocols")
def delete_protocol(services: ServicesDep, principal: Myself, name: str = NameParam
                    ) -> dict[str, bool]:
    """Remove the caller's protocol ``name`` (shipped ones cannot be removed)."""
    with write_transaction(services.engine) as conn:
        done = conn.execute(delete(user_settings).where(
            user_settings.c.user_pk == _user(principal), user_settings.c.kind == "protocol",
            user_settings.c.name == name)).rowcount
    if not done:
        raise NotFoundError(f"you have no hanging protocol called {name!r}")
    return {"deleted": True}
