"""Retention: each study's storage term, paid extensions, legal holds, and the purge.

Administrators list their account's terms (also while suspended), extend storage and
place or lift legal holds on studies their account owns; staff do so for any account
and run the purge (a dry run unless ``dry_run`` is false).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select

from server.auth.permissions import Action, Principal
from server.auth.tokens import now_utc
from server.db.models import studies
from server.db.visibility import study_is_visible
from server.deps import OffsetQuery, ServicesDep, Staff, requires
from server.routes.billing import Biller, IdempotencyKey, naive_utc
from server.services import ledger, retention
from server.services.audit import AuditEvent
from server.services.purge import Stores, purge
from server.services.retention import TermInfo
from workbench.errors import NotFoundError, PermissionDeniedError

router = APIRouter(tags=["Retention"])
Retainer = Annotated[Principal, Depends(requires(Action.RETENTION))]


async def study_keeper(study: str, request: Request, principal: Retainer,
                       services: ServicesDep) -> Principal:
    """The caller, whose account must own ``study`` (404 when it does not see it)."""
    with services.engine.connect() as conn:
        owner = conn.execute(select(studies.c.account_pk)
                             .where(studies.c.study_uid == study)).scalar()
        if owner is not None:
            request.state.audit_account = owner
        if owner == principal.account_pk and principal.sees_own_account:
            return principal
        if owner is None or not study_is_visible(conn, principal, study):
            raise NotFoundError(f"no study {study} is stored")
    raise PermissionDeniedError(f"study {study} is shared with you; only the account that "
                                "owns it decides how long it is kept")


StudyKeeper = Annotated[Principal, Depends(study_keeper)]


class TermOut(BaseModel):
    """A study's storage term; ``status`` is judged now (held, paid, expired, purged)."""

    study_uid: str
    account_id: int
    received_at: datetime
    paid_months: int
    paid_until: datetime
    max_until: datetime
    status: str
    legal_hold: bool
    hold_reason: str
    hold_by: str
    num_instances: int
    size_bytes: int
    modalities: list[str]
    purged_at: datetime | None


class TermPage(BaseModel):
    """A page of terms; continue from ``next_offset`` until it is null."""

    terms: list[TermOut]
    next_offset: int | None


class ExtendIn(BaseModel):
    """Extend storage by whole years (capped at 7 years from receipt)."""

    years: int = Field(default=1, ge=1, le=7)
    idempotency_key: IdempotencyKey | None = None


class ExtensionOut(BaseModel):
    """The extended term and what it cost (cents)."""

    term: TermOut
    added_months: int
    amount: int
    repeated: bool


class HoldIn(BaseModel):
    """A legal hold and why."""

    reason: str = Field(default="", max_length=2000)


class PurgeIn(BaseModel):
    """Run the purge; a dry run unless ``dry_run`` is false."""

    dry_run: bool = True
    as_of: datetime | None = Field(default=None, description="dry runs only: judge expiry "
                                   "at this instant (UTC) instead of now")


class PurgedOut(BaseModel):
    """A study purged (or that would be)."""

    study_uid: str
    account_id: int
    received_at: datetime
    paid_until: datetime
    num_instances: int
    size_bytes: int


class PurgeOut(BaseModel):
    """What a purge run did."""

    as_of: datetime
    dry_run: bool
    studies: list[PurgedOut]
    size_bytes: int
    held_kept: int
    resumed: list[str]
    failed: list[str]


def _term(info: TermInfo) -> TermOut:
    t = info.term
    return TermOut(study_uid=t.study_uid, account_id=t.account_pk, received_at=t.received_at,
                   paid_months=t.paid_months, paid_until=t.paid_until, max_until=t.max_until,
                   status=str(t.status(now_utc())), legal_hold=t.legal_hold,
                   hold_reason=info.hold_reason, hold_by=info.hold_by,
                   num_instances=info.num_instances, size_bytes=t.size_bytes,
                   modalities=list(t.modalities), purged_at=t.purged_at)


def _list(services: ServicesDep, account_pk: int | None, purged: bool,
          expiring_before: datetime | None, held: bool | None, limit: int, offset: int
          ) -> TermPage:
    with services.engine.connect() as conn:
        found, following = retention.list_terms(
            conn, account_pk=account_pk, purged=purged, expiring_before=naive_utc(expiring_before),
            held=held, limit=limit, offset=offset)
    return TermPage(terms=[_term(i) for i in found], next_offset=following)


PurgedQuery = Annotated[bool, Query(description="list purged studies' minimal records")]
BeforeQuery = Annotated[datetime | None, Query(
    description="only studies whose paid-until is at or before this instant (UTC)")]
HeldQuery = Annotated[bool | None, Query(description="only held (true) or unheld (false)")]
LimitQuery = Annotated[int, Query(ge=1, le=10000)]


@router.get("/retention/studies", response_model=TermPage,
            summary="My account's studies: how long each is kept")
def my_terms(services: ServicesDep, principal: Biller, purged: PurgedQuery = False,
             expiring_before: BeforeQuery = None, held: HeldQuery = None,
             limit: LimitQuery = 1000, offset: OffsetQuery = 0) -> TermPage:
    """Received, paid until, legal hold and size of each study, oldest first."""
    return _list(services, principal.account_pk, purged, expiring_before, held, limit, offset)


@router.post("/retention/studies/{study}/extend", response_model=ExtensionOut,
             summary="Extend a study's storage (charged per study-year)")
def extend(study: str, form: ExtendIn, services: ServicesDep, principal: StudyKeeper
           ) -> ExtensionOut:
    """Add whole years, up to 7 years from receipt; the ledger is charged."""
    result = retention.extend(services.engine, study, form.years,
                              ledger.load_prices(services.settings), actor=principal.label,
                              key=form.idempotency_key)
    if not result.repeated:
        services.audit.record(AuditEvent(
            "storage-extension", principal.label, "ok", resource=f"study:{study}",
            study_uid=study, actor_user_pk=principal.user_pk,
            actor_account_pk=principal.account_pk, account_pk=result.info.term.account_pk,
            detail=f"{result.added_months} months, {result.cents} cents, paid until "
                   f"{result.info.term.paid_until:%Y-%m-%d}"), wait=True)
    return ExtensionOut(term=_term(result.info), added_months=result.added_months,
                        amount=result.cents, repeated=result.repeated)


def _hold(services: ServicesDep, principal: Principal, study: str, hold: bool, reason: str
          ) -> TermOut:
    info, changed = retention.set_hold(services.engine, study, hold, actor=principal.label,
                                       reason=reason)
    if changed:
        services.audit.record(AuditEvent(
            "legal-hold" if hold else "legal-hold-lifted", principal.label, "ok",
            resource=f"study:{study}", study_uid=study, actor_user_pk=principal.user_pk,
            actor_account_pk=principal.account_pk, account_pk=info.term.account_pk,
            detail=reason), wait=True)
    return _term(info)


@router.put("/retention/studies/{study}/hold", response_model=TermOut,
            summary="Place a legal hold: the study is never purged while it lasts")
def place_hold(study: str, form: HoldIn, services: ServicesDep, principal: StudyKeeper
               ) -> TermOut:
    """Idempotent: holding a held study changes nothing."""
    return _hold(services, principal, study, True, form.reason)


@router.delete("/retention/studies/{study}/hold", response_model=TermOut,
               summary="Lift a legal hold")
def lift_hold(study: str, services: ServicesDep, principal: StudyKeeper) -> TermOut:
    """The study follows its paid-until again; lifting no hold changes nothing."""
    return _hold(services, principal, study, False, "")


@router.get("/staff/retention/studies", response_model=TermPage,
            summary="Every account's storage terms (staff)")
def all_terms(services: ServicesDep, _staff: Staff,
              account_id: int | None = Query(None, ge=1, le=2**53), purged: PurgedQuery = False,
              expiring_before: BeforeQuery = None, held: HeldQuery = None,
              limit: LimitQuery = 1000, offset: OffsetQuery = 0) -> TermPage:
    """Terms of all accounts (or one), oldest receipt first."""
    return _list(services, account_id, purged, expiring_before, held, limit, offset)


@router.put("/staff/retention/studies/{study}/hold", response_model=TermOut,
            summary="Place a legal hold on any account's study (staff)")
def staff_hold(study: str, form: HoldIn, services: ServicesDep, staff: Staff) -> TermOut:
    """For holds the operator receives (court orders) rather than the practice."""
    return _hold(services, staff, study, True, form.reason)


@router.delete("/staff/retention/studies/{study}/hold", response_model=TermOut,
               summary="Lift a legal hold on any account's study (staff)")
def staff_lift(study: str, services: ServicesDep, staff: Staff) -> TermOut:
    """The study follows its paid-until again."""
    return _hold(services, staff, study, False, "")


@router.post("/staff/retention/purge", response_model=PurgeOut,
             summary="Purge expired studies without a legal hold (staff)")
def run_purge(form: PurgeIn, services: ServicesDep, staff: Staff) -> PurgeOut:
    """Deletes expired studies' files, keeps a minimal record, audits each deletion."""
    report = purge(services.engine, Stores(services.store, services.media_store),
                   services.audit, services.events, actor=staff.label, dry_run=form.dry_run,
                   as_of=naive_utc(form.as_of))
    return PurgeOut(
        as_of=report.as_of, dry_run=report.dry_run, size_bytes=report.size_bytes,
        held_kept=report.held_kept, resumed=report.resumed,
        failed=[f"{uid}: {why}" for uid, why in report.failed],
        studies=[PurgedOut(study_uid=p.study_uid, account_id=p.account_pk,
                           received_at=p.received_at, paid_until=p.paid_until,
                           num_instances=p.num_instances, size_bytes=p.size_bytes)
                 for p in report.studies])
