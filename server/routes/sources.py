"""Sources: the sites and modalities that send an account's studies.

A modality source has an AE title (the DIMSE listener accepts associations only from
registered titles); every source can get an upload key, a bearer token that may only
store studies (STOW-RS, ``workbench ingest --url``). A source bound to a team shares
what it sends with that team ("virtual workflow").
"""

from __future__ import annotations

import re
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import Connection, insert, select, update

from server.auth.tokens import bump_generation, hash_token, new_secret, now_utc
from server.db.accounts import api_tokens, sources, team_members, teams
from server.db.engine import write_transaction
from server.deps import IdField, IdPath, ServicesDep, SourcesAdmin
from server.services.audit import AuditEvent
from workbench.errors import ConflictError, NotFoundError

router = APIRouter(tags=["Sources"])
_AE = re.compile(r"^[\x21-\x5b\x5d-\x7e][\x20-\x5b\x5d-\x7e]{0,15}$")  # PS3.5 AE, no "\"


class SourceIn(BaseModel):
    """A sending site or modality."""

    name: str = Field(min_length=1, max_length=200)
    kind: Literal["modality", "site"] = "modality"
    ae_title: str | None = Field(default=None, max_length=16)
    host: str = Field(default="", max_length=200)
    port: int | None = Field(default=None, ge=1, le=65535,
                             description="where C-MOVE sends retrieved studies")
    can_retrieve: bool = Field(default=False, description=(
        "the AE may query (C-FIND) and retrieve (C-MOVE/C-GET) the account's studies"))
    team_id: IdField | None = None
    active: bool = True


class SourceOut(BaseModel):
    """A source as listed; ``upload_key`` only when one was just issued."""

    id: int
    name: str
    kind: str
    ae_title: str | None
    host: str
    port: int | None
    can_retrieve: bool
    team_id: int | None
    active: bool
    upload_key: str | None = None


def _out(row: Any, key: str | None = None) -> SourceOut:
    return SourceOut(id=row.pk, name=row.name, kind=row.kind, ae_title=row.ae_title,
                     host=row.host, port=row.port, can_retrieve=row.can_retrieve,
                     team_id=row.team_pk, active=row.active, upload_key=key)


def _validate(conn: Connection, form: SourceIn, account_pk: int, pk: int | None) -> str | None:
    title = form.ae_title.strip() if form.ae_title else None
    if title is not None and not _AE.match(title):
        raise ValueError(f"AE title {form.ae_title!r} must be 1-16 printable ASCII characters "
                         "without backslash")
    if title is not None:
        other = conn.execute(select(sources.c.pk).where(sources.c.ae_title == title)).scalar()
        if other is not None and other != pk:
            raise ConflictError(f"the AE title {title} is registered already")
    if form.team_id is not None:
        owned = conn.execute(select(teams.c.pk).where(
            teams.c.pk == form.team_id, teams.c.account_pk == account_pk)).first()
        member = conn.execute(select(team_members.c.pk).where(
            team_members.c.team_pk == form.team_id)).first()
        if owned is None and member is None:
            raise NotFoundError(f"no team {form.team_id}")
    return title


def _issue_key(conn: Connection, source_pk: int, name: str) -> str:
    secret = new_secret()
    conn.execute(update(api_tokens).where(api_tokens.c.source_pk == source_pk,
                                          api_tokens.c.revoked_at.is_(None))
                 .values(revoked_at=now_utc()))
    conn.execute(insert(api_tokens).values(source_pk=source_pk, name=f"upload key: {name}",
                                           token_sha256=hash_token(secret), scopes="write",
                                           created_at=now_utc()))
    bump_generation(conn)
    return secret


def _audit(services: Any, principal: Any, action: str, pk: int) -> None:
    services.audit.record(AuditEvent(
        action, principal.label, "ok", resource=f"source:{pk}",
        actor_user_pk=principal.user_pk, actor_account_pk=principal.account_pk,
        account_pk=principal.account_pk), wait=True)


@router.get("/sources", response_model=list[SourceOut], summary="The account's sources")
def list_sources(services: ServicesDep, principal: SourcesAdmin) -> list[SourceOut]:
    """Sending sites and modalities of the caller's account."""
    with services.engine.connect() as conn:
        rows = conn.execute(select(sources).where(sources.c.account_pk == principal.account_pk)
                            .order_by(sources.c.pk)).fetchall()
    return [_out(r) for r in rows]


@router.post("/sources", response_model=SourceOut, status_code=201, summary="Add a source")
def add_source(form: SourceIn, services: ServicesDep, principal: SourcesAdmin) -> SourceOut:
    """Register a source; the answer holds its upload key, shown only this once."""
    with write_transaction(services.engine) as conn:
        title = _validate(conn, form, principal.account_pk, None)
        pk = int(conn.execute(insert(sources).values(
            account_pk=principal.account_pk, name=form.name, kind=form.kind, ae_title=title,
            host=form.host, port=form.port, can_retrieve=form.can_retrieve,
            team_pk=form.team_id, active=form.active, created_at=now_utc(),
        )).inserted_primary_key[0])  # type: ignore[index]
        key = _issue_key(conn, pk, form.name)
        row = conn.execute(select(sources).where(sources.c.pk == pk)).one()
    _audit(services, principal, "source-add", pk)
    return _out(row, key)


def _own(conn: Connection, source_id: int, account_pk: int) -> Any:
    row = conn.execute(select(sources).where(sources.c.pk == source_id,
                                             sources.c.account_pk == account_pk)).first()
    if row is None:
        raise NotFoundError(f"no source {source_id} in your account")
    return row


@router.put("/sources/{source_id}", response_model=SourceOut, summary="Edit a source")
def edit_source(source_id: IdPath, form: SourceIn, services: ServicesDep,
                principal: SourcesAdmin) -> SourceOut:
    """Replace a source's settings (its upload key stays)."""
    with write_transaction(services.engine) as conn:
        _own(conn, source_id, principal.account_pk)
        title = _validate(conn, form, principal.account_pk, source_id)
        conn.execute(update(sources).where(sources.c.pk == source_id).values(
            name=form.name, kind=form.kind, ae_title=title, host=form.host, port=form.port,
            can_retrieve=form.can_retrieve, team_pk=form.team_id, active=form.active))
        bump_generation(conn)
        row = conn.execute(select(sources).where(sources.c.pk == source_id)).one()
    _audit(services, principal, "source-change", source_id)
    return _out(row)


@router.post("/sources/{source_id}/upload-key", response_model=SourceOut,
             summary="Issue a new upload key (the old one stops working)")
def rotate_key(source_id: IdPath, services: ServicesDep, principal: SourcesAdmin) -> SourceOut:
    """Replace the source's upload key."""
    with write_transaction(services.engine) as conn:
        row = _own(conn, source_id, principal.account_pk)
        key = _issue_key(conn, source_id, row.name)
    _audit(services, principal, "source-key", source_id)
    return _out(row, key)


@router.delete("/sources/{source_id}", summary="Remove a source (deactivates it)")
def remove_source(source_id: IdPath, services: ServicesDep, principal: SourcesAdmin
                  ) -> dict[str, bool]:
    """Deactivate a source and revoke its upload key; what it sent stays."""
    with write_transaction(services.engine) as conn:
        _own(conn, source_id, principal.account_pk)
        conn.execute(update(sources).where(sources.c.pk == source_id)
                     .values(active=False, ae_title=None))
        conn.execute(update(api_tokens).where(api_tokens.c.source_pk == source_id,
                                              api_tokens.c.revoked_at.is_(None))
                     .values(revoked_at=now_utc()))
        bump_generation(conn)
    _audit(services, principal, "source-remove", source_id)
    return {"removed": True}
