"""The retention purge: delete expired studies' files, keep a minimal record, audit each.

A study is purged when its paid-until has passed and no legal hold is on it
(``workbench.retention``). Each study goes in three steps, so that the purge is safe to
interrupt and run again:

1. one durable transaction re-checks the study (a hold placed meanwhile wins), writes the
   minimal record (``study_retention``: UID, account, receipt, paid-until, instance count,
   size, modalities, ``purged_at``) with the list of its blob keys, and deletes its index
   rows (series, instances, uploaded files, shares, recorded demographic conflicts);
2. the blobs (DICOM instances and uploaded files) are deleted;
3. the deletion is written to the audit trail, then the blob list is cleared.

A run first finishes every study a previous run left between steps 1 and 3.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from server.auth.tokens import now_utc
from server.config import Settings
from server.db.billing import study_retention
from server.db.engine import make_engine, upgrade, write_transaction
from server.db.media import media
from server.db.models import instances, patient_conflicts, series, studies
from server.services.audit import AuditEvent, AuditLog
from server.services.events import STUDY_DELETED, EventBus
from server.services.reports_dictation import remove_study_files
from server.services.retention import TermInfo, list_terms, term_of
from server.storage.factory import open_store
from server.storage.local import LocalBlobStore
from workbench.errors import NotFoundError
from workbench.retention import StorageTerm

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Stores:
    """Where a study's files are: DICOM instances and uploaded (non-DICOM) files."""

    dicom: LocalBlobStore
    media: LocalBlobStore


@dataclass(frozen=True)
class Purged:
    """A study the purge deleted (or, in a dry run, would delete)."""

    study_uid: str
    account_pk: int
    received_at: datetime
    paid_until: datetime
    num_instances: int
    size_bytes: int


@dataclass
class PurgeReport:
    """What one purge run did."""

    as_of: datetime
    dry_run: bool
    studies: list[Purged] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    held_kept: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def size_bytes(self) -> int:
        """Bytes of the purged studies."""
        return sum(p.size_bytes for p in self.studies)

    def text(self) -> str:
        """A readable summary, one line per study."""
        verb = "would purge" if self.dry_run else "purged"
        lines = [f"{verb} {len(self.studies)} studies ({self.size_bytes} bytes) expired by "
                 f"{self.as_of:%Y-%m-%d %H:%M} UTC; {self.held_kept} expired studies kept "
                 "under legal hold"]
        lines += [f"  {p.study_uid}  account {p.account_pk}  paid until "
                  f"{p.paid_until:%Y-%m-%d}  {p.num_instances} instances  {p.size_bytes} bytes"
                  for p in self.studies]
        lines += [f"  finished the interrupted purge of {uid}" for uid in self.resumed]
        lines += [f"  FAILED {uid}: {why}" for uid, why in self.failed]
        return "\n".join(lines)


def expired_terms(engine: Engine, as_of: datetime, *, held: bool = False) -> list[TermInfo]:
    """Stored studies whose paid-until is at or before ``as_of`` (held or not held)."""
    found: list[TermInfo] = []
    offset: int | None = 0
    with engine.connect() as conn:
        while offset is not None:
            page, offset = list_terms(conn, expiring_before=as_of, held=held, limit=5000,
                                      offset=offset)
            found += page
    return found


def purge(engine: Engine, stores: Stores, audit: AuditLog, events: EventBus, *,
          actor: str, dry_run: bool = False, as_of: datetime | None = None) -> PurgeReport:
    """Purge every expired study without a legal hold.

    Parameters
    ----------
    stores
        The DICOM blob store and the media (uploaded files) store.
    actor
        Who runs the purge, for the audit trail.
    dry_run
        Only report what would go.
    as_of
        The instant expiry is judged at; later than now only in a dry run.
    """
    now = now_utc()
    as_of = as_of or now
    if as_of > now and not dry_run:
        raise ValueError("as_of: a purge deletes only what has expired by now; a later "
                         "date is allowed for a dry run")
    report = PurgeReport(as_of, dry_run, held_kept=len(expired_terms(engine, as_of, held=True)))
    if not dry_run:
        report.resumed = finish_interrupted(engine, stores, audit, events, actor)
    for info in expired_terms(engine, as_of):
        term = info.term
        if dry_run:
            report.studies.append(Purged(term.study_uid, term.account_pk, term.received_at,
                                         term.paid_until, info.num_instances, term.size_bytes))
            continue
        try:
            purged = _delete_rows(engine, term.study_uid, as_of)
        except SQLAlchemyError as exc:  # one study's failure must not stop the others
            log.exception("purge of %s failed", term.study_uid)
            report.failed.append((term.study_uid, str(exc).splitlines()[0]))
            continue
        if purged is not None:
            _finish(engine, stores, audit, events, term.study_uid, actor, purged)
            report.studies.append(purged)
    return report


def _delete_rows(engine: Engine, study_uid: str, as_of: datetime) -> Purged | None:
    """Step 1: re-check, record, delete the index rows (None when no longer purgeable)."""
    with write_transaction(engine, durable=True) as conn:
        try:
            info = term_of(conn, study_uid)
        except NotFoundError:
            return None
        term = info.term
        if not term.purgeable(as_of):
            return None
        study_pk = conn.execute(select(studies.c.pk).where(studies.c.study_uid == study_uid)
                                ).scalar_one()
        blobs = {"dicom": list(conn.execute(select(instances.c.blob).where(
            instances.c.study_pk == study_pk)).scalars()),
                 "media": list(conn.execute(select(media.c.blob).where(
                     media.c.study_pk == study_pk)).scalars())}
        now = now_utc()
        record = {"account_pk": term.account_pk, "received_at": term.received_at,
                  "paid_months": term.paid_months, "legal_hold": False, "purged_at": now,
                  "num_instances": info.num_instances, "size_bytes": term.size_bytes,
                  "modalities": " ".join(term.modalities), "pending_blobs": json.dumps(blobs),
                  "updated_at": now}
        if conn.execute(select(study_retention.c.pk).where(
                study_retention.c.study_uid == study_uid)).first() is None:
            conn.execute(insert(study_retention).values(
                study_uid=study_uid, receipt=0, hold_reason="", hold_by="", **record))
        else:
            conn.execute(update(study_retention).where(
                study_retention.c.study_uid == study_uid).values(**record))
        conn.execute(delete(media).where(media.c.study_pk == study_pk))
        conn.execute(delete(instances).where(instances.c.study_pk == study_pk))
        conn.execute(delete(series).where(series.c.study_pk == study_pk))
        conn.execute(delete(patient_conflicts).where(patient_conflicts.c.study_uid == study_uid))
        conn.execute(delete(studies).where(studies.c.pk == study_pk))
    return Purged(study_uid, term.account_pk, term.received_at, term.paid_until,
                  info.num_instances, term.size_bytes)


def _finish(engine: Engine, stores: Stores, audit: AuditLog, events: EventBus,
            study_uid: str, actor: str, purged: Purged, *, resumed: bool = False) -> None:
    """Steps 2 and 3: delete the blobs, audit, clear the pending list."""
    with engine.connect() as conn:
        pending = conn.execute(select(study_retention.c.pending_blobs).where(
            study_retention.c.study_uid == study_uid)).scalar() or "{}"
    blobs = json.loads(pending)
    for key in blobs.get("dicom", []):
        stores.dicom.delete(str(key))
    for key in blobs.get("media", []):
        stores.media.delete(str(key))
    detail = (f"retention expired (paid until {purged.paid_until:%Y-%m-%d}); "
              f"{purged.num_instances} instances, {purged.size_bytes} bytes deleted; "
              "a minimal record is kept" + ("; finished after an interruption" if resumed else ""))
    audit.record(AuditEvent("purge", actor, "ok", resource=f"study:{study_uid}",
                            study_uid=study_uid, account_pk=purged.account_pk, detail=detail),
                 wait=True)
    with write_transaction(engine) as conn:
        conn.execute(update(study_retention).where(study_retention.c.study_uid == study_uid)
                     .values(pending_blobs=""))
    events.emit(STUDY_DELETED, {"study": study_uid})


def finish_interrupted(engine: Engine, stores: Stores, audit: AuditLog,
                       events: EventBus, actor: str) -> list[str]:
    """Finish purges a previous run left after step 1; their study UIDs."""
    with engine.connect() as conn:
        rows = conn.execute(select(study_retention).where(
            study_retention.c.pending_blobs != "")).all()
    for row in rows:
        purged = Purged(row.study_uid, row.account_pk, row.received_at,
                        StorageTerm(row.study_uid, row.account_pk, row.received_at,
                                    row.paid_months).paid_until,
                        row.num_instances, row.size_bytes)
        _finish(engine, stores, audit, events, row.study_uid, actor, purged, resumed=True)
    return [row.study_uid for row in rows]


def purge_data_dir(data_dir: Path | None, *, dry_run: bool, as_of: datetime | None = None
                   ) -> PurgeReport:
    """Run the purge on the archive stored under ``data_dir`` (``workbench retention purge``)."""
    settings = Settings(data_dir=data_dir) if data_dir is not None else Settings()
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    stores = Stores(open_store(settings, "blobs"), open_store(settings, "media"))
    audit = AuditLog(engine)
    events = EventBus()
    # what the server's handlers do for a deleted study, done here (another process):
    # the study's dictation audio goes too
    events.subscribe(STUDY_DELETED, lambda payload: remove_study_files(
        settings.data_dir, str(payload.get("study", ""))))
    try:
        return purge(engine, stores, audit, events, actor="workbench retention purge",
                     dry_run=dry_run, as_of=as_of)
    finally:
        events.close()
        audit.close()
        stores.dicom.close()
        stores.media.close()
        engine.dispose()
