"""Storage terms of stored studies: listing, paid extensions, legal holds.

A study without a ``study_retention`` row has the default term (6 months from receipt,
no hold); a row is written the first time a study is extended or held, and by the purge
(the minimal record of a purged study). The rules themselves are ``workbench.retention``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from server.auth.tokens import now_utc
from server.db.billing import study_retention
from server.db.engine import write_transaction
from server.db.models import series, studies
from server.services import ledger
from workbench.billing import EntryKind, PriceTable
from workbench.errors import ConflictError, NotFoundError
from workbench.retention import INCLUDED_MONTHS, StorageTerm, add_months, quote_extension


@dataclass(frozen=True)
class TermInfo:
    """A study's storage term with what the API shows beside it."""

    term: StorageTerm
    num_instances: int
    hold_reason: str = ""
    hold_by: str = ""


_R = study_retention.c
_COLUMNS = (studies.c.pk, studies.c.study_uid, studies.c.account_pk, studies.c.created_at,
            studies.c.size_bytes, studies.c.num_instances, _R.paid_months, _R.legal_hold,
            _R.hold_reason, _R.hold_by)


def _modalities(conn: Connection, study_pks: list[int]) -> dict[int, tuple[str, ...]]:
    found: dict[int, set[str]] = {}
    for pk, modality in conn.execute(select(series.c.study_pk, series.c.modality)
                                     .where(series.c.study_pk.in_(study_pks))):
        if modality:
            found.setdefault(int(pk), set()).add(modality)
    return {pk: tuple(sorted(m)) for pk, m in found.items()}


def _current(conn: Connection, rows: Sequence[Any]) -> list[TermInfo]:
    modalities = _modalities(conn, [r.pk for r in rows]) if rows else {}
    return [TermInfo(StorageTerm(
        r.study_uid, int(r.account_pk), r.created_at,
        INCLUDED_MONTHS if r.paid_months is None else int(r.paid_months),
        bool(r.legal_hold), int(r.size_bytes), modalities.get(r.pk, ())),
        int(r.num_instances), r.hold_reason or "", r.hold_by or "") for r in rows]


def _purged(rows: Sequence[Any]) -> list[TermInfo]:
    return [TermInfo(StorageTerm(
        r.study_uid, int(r.account_pk), r.received_at, int(r.paid_months), bool(r.legal_hold),
        int(r.size_bytes), tuple(r.modalities.split()), r.purged_at), int(r.num_instances),
        r.hold_reason, r.hold_by) for r in rows]


def list_terms(conn: Connection, *, account_pk: int | None = None, purged: bool = False,
               expiring_before: datetime | None = None, held: bool | None = None,
               limit: int = 1000, offset: int = 0) -> tuple[list[TermInfo], int | None]:
    """One page of storage terms, oldest receipt first, and the offset of the next page.

    ``expiring_before`` keeps studies whose paid-until is at or before it (held ones
    included unless ``held`` is False). The page is cut in the database before that test,
    so a page may hold fewer than ``limit`` terms while more follow: continue from the
    returned offset until it is None.
    """
    if purged:
        stmt = select(study_retention).where(_R.purged_at.is_not(None))
        if account_pk is not None:
            stmt = stmt.where(_R.account_pk == account_pk)
        if held is not None:
            stmt = stmt.where(_R.legal_hold.is_(held))
        rows = conn.execute(stmt.order_by(_R.purged_at, _R.pk).limit(limit).offset(offset)).all()
        return _purged(rows), (offset + limit if len(rows) == limit else None)
    stmt = select(*_COLUMNS).select_from(
        studies.outerjoin(study_retention, _R.study_uid == studies.c.study_uid))
    if account_pk is not None:
        stmt = stmt.where(studies.c.account_pk == account_pk)
    if held is not None:
        stmt = stmt.where(_R.legal_hold.is_(True) if held else _R.legal_hold.is_not(True))
    if expiring_before is not None:  # nothing expires before its included months are over
        stmt = stmt.where(studies.c.created_at <= add_months(expiring_before, -INCLUDED_MONTHS))
    rows = conn.execute(stmt.order_by(studies.c.created_at, studies.c.pk)
                        .limit(limit).offset(offset)).all()
    found = _current(conn, rows)
    if expiring_before is not None:
        found = [t for t in found if t.term.paid_until <= expiring_before]
    return found, (offset + limit if len(rows) == limit else None)


def term_of(conn: Connection, study_uid: str) -> TermInfo:
    """The storage term of one stored study (``NotFoundError`` if it is not stored)."""
    rows = conn.execute(select(*_COLUMNS).select_from(
        studies.outerjoin(study_retention, _R.study_uid == studies.c.study_uid))
        .where(studies.c.study_uid == study_uid)).all()
    if not rows:
        raise NotFoundError(f"no study {study_uid} is stored")
    return _current(conn, rows)[0]


def _ensure_row(conn: Connection, study_uid: str) -> Any:
    row = conn.execute(select(study_retention).where(_R.study_uid == study_uid)).first()
    if row is not None and row.purged_at is None:
        return row
    study = conn.execute(select(studies.c.account_pk, studies.c.created_at)
                         .where(studies.c.study_uid == study_uid)).first()
    if study is None:
        raise NotFoundError(f"no study {study_uid} is stored")
    if row is not None:  # stored again after a purge, before the event handler saw it
        ledger.note_receipt(conn, study_uid)
    else:
        conn.execute(insert(study_retention).values(
            study_uid=study_uid, account_pk=study.account_pk, received_at=study.created_at,
            receipt=0, paid_months=INCLUDED_MONTHS, legal_hold=False, hold_reason="",
            hold_by="", num_instances=0, size_bytes=0, modalities="", pending_blobs="",
            updated_at=now_utc()))
    return conn.execute(select(study_retention).where(_R.study_uid == study_uid)).one()


@dataclass(frozen=True)
class ExtensionResult:
    """An extension written to the ledger (or found there under the same key)."""

    info: TermInfo
    added_months: int
    cents: int
    repeated: bool = False


def extend(engine: Engine, study_uid: str, years: int, prices: PriceTable, *, actor: str,
           key: str | None = None) -> ExtensionResult:
    """Extend a study's storage by ``years`` (capped at 7 years) and charge it.

    A repeated ``key`` changes and charges nothing. Without a key, every call extends.

    Raises
    ------
    ValueError
        ``years`` out of range, or the study is paid to the maximum already.
    """
    with write_transaction(engine) as conn:
        row = _ensure_row(conn, study_uid)
        if key is not None and ledger.has_entry(conn, row.account_pk, f"storage:{key}"):
            return ExtensionResult(term_of(conn, study_uid), 0, 0, repeated=True)
        before = term_of(conn, study_uid).term
        quote = quote_extension(before, years, prices.storage_year)
        conn.execute(update(study_retention).where(_R.pk == row.pk).values(
            paid_months=quote.paid_months, updated_at=now_utc()))
        entry_key = f"storage:{key}" if key is not None else \
            f"storage:{study_uid}#{row.receipt}:{quote.paid_months}"
        ledger.append(conn, row.account_pk, EntryKind.STORAGE, quote.cents, key=entry_key,
                      study_uid=study_uid, actor=actor,
                      reason=f"storage extended by {quote.added_months} months, paid until "
                             f"{quote.paid_until:%Y-%m-%d}")
        return ExtensionResult(term_of(conn, study_uid), quote.added_months, quote.cents)


def set_hold(engine: Engine, study_uid: str, hold: bool, *, actor: str, reason: str = ""
             ) -> tuple[TermInfo, bool]:
    """Place (``hold``) or lift a legal hold; the term and whether anything changed.

    Raises
    ------
    NotFoundError
        The study is not stored (a purged study cannot be held any more).
    ConflictError
        The study is being purged right now.
    """
    with write_transaction(engine) as conn:
        row = _ensure_row(conn, study_uid)
        if row.pending_blobs:
            raise ConflictError(f"study {study_uid} is being purged")
        changed = bool(row.legal_hold) != hold
        if changed:
            conn.execute(update(study_retention).where(_R.pk == row.pk).values(
                legal_hold=hold, hold_reason=reason.strip()[:2000] if hold else "",
                hold_by=actor[:300] if hold else "", hold_at=now_utc() if hold else None,
                updated_at=now_utc()))
        return term_of(conn, study_uid), changed
