"""The audit trail, searchable by administrators (their account) and staff (everything)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import or_, select

from server.db.audit import audit_events
from server.db.models import studies
from server.deps import AuditReader, OffsetQuery, ServicesDep, Staff
from server.services.audit import verify_chain

router = APIRouter(tags=["Audit"])


class AuditEntry(BaseModel):
    """One audit event."""

    id: int
    at: str
    actor: str
    actor_user_id: int | None
    action: str
    resource: str
    study_uid: str
    remote: str
    outcome: str
    detail: str


class ChainStatus(BaseModel):
    """Result of recomputing the hash chain."""

    rows: int
    intact: bool
    first_bad_id: int | None
    problem: str


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(id=row.pk, at=row.at, actor=row.actor, actor_user_id=row.actor_user_pk,
                      action=row.action, resource=row.resource, study_uid=row.study_uid,
                      remote=row.remote, outcome=row.outcome, detail=row.detail)


@router.get("/audit", response_model=list[AuditEntry], summary="Search the audit trail")
def search_audit(services: ServicesDep, principal: AuditReader,
                 actor: str | None = Query(None, max_length=300, description="e-mail or label"),
                 action: str | None = Query(None, max_length=64),
                 study_uid: str | None = Query(None, max_length=64),
                 outcome: str | None = Query(None, max_length=32),
                 since: str | None = Query(None, max_length=32, description="ISO time, UTC"),
                 until: str | None = Query(None, max_length=32, description="ISO time, UTC"),
                 limit: int = Query(100, ge=1, le=1000), offset: OffsetQuery = 0,
                 ) -> list[AuditEntry]:
    """Events by the account's people, on its data or its studies, newest first."""
    stmt = select(audit_events).order_by(audit_events.c.pk.desc()).limit(limit).offset(offset)
    if not principal.is_staff:
        own = select(studies.c.study_uid).where(studies.c.account_pk == principal.account_pk)
        stmt = stmt.where(or_(audit_events.c.actor_account_pk == principal.account_pk,
                              audit_events.c.account_pk == principal.account_pk,
                              audit_events.c.study_uid.in_(own)))
    for column, value in ((audit_events.c.actor, actor), (audit_events.c.action, action),
                          (audit_events.c.study_uid, study_uid),
                          (audit_events.c.outcome, outcome)):
        if value is not None:
            stmt = stmt.where(column == value)
    if since is not None:
        stmt = stmt.where(audit_events.c.at >= since)
    if until is not None:
        stmt = stmt.where(audit_events.c.at <= until)
    services.audit.flush()
    with services.engine.connect() as conn:
        return [_entry(r) for r in conn.execute(stmt).fetchall()]


@router.get("/audit/verify", response_model=ChainStatus, summary="Verify the hash chain (staff)")
def verify(services: ServicesDep, _staff: Staff) -> ChainStatus:
    """Recompute every hash; names the first row that was changed, inserted or removed."""
    services.audit.flush()
    report = verify_chain(services.engine)
    return ChainStatus(rows=report.rows, intact=report.intact,
                       first_bad_id=report.first_bad_pk, problem=report.problem)
