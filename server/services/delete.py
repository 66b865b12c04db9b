"""Deleting studies, series and instances: index rows first, then blobs."""

from __future__ import annotations

from sqlalchemy import Engine, delete, select

from server.db.billing import study_retention
from server.db.engine import write_transaction
from server.db.media import media
from server.db.models import instances, series, studies
from server.services.events import STUDY_DELETED, EventBus
from server.services.indexer import recount
from server.storage.local import LocalBlobStore
from workbench.errors import ConflictError, NotFoundError


def delete_objects(engine: Engine, store: LocalBlobStore, events: EventBus, study: str,
                   series_uid: str | None = None, sop: str | None = None, *,
                   media_store: LocalBlobStore | None = None) -> int:
    """Delete a study, a series or an instance; return how many instances went.

    The rows go in one transaction; blobs are removed after it commits, so a crash in
    between leaves only unreferenced files, never rows without files. When the study
    goes, its uploaded files (media rows cascade) go from ``media_store`` too.

    Raises
    ------
    NotFoundError
        Nothing matches.
    ConflictError
        The study is under a legal hold.
    """
    with write_transaction(engine, durable=True) as conn:
        hold = conn.execute(select(study_retention.c.hold_reason).where(
            study_retention.c.study_uid == study, study_retention.c.legal_hold.is_(True))
        ).first()
        if hold is not None:
            why = hold.hold_reason or "no reason given"
            raise ConflictError(f"study {study} is under a legal hold ({why}): release the "
                                "hold before deleting")
        stmt = (
            select(instances.c.pk, instances.c.blob, instances.c.series_pk, instances.c.study_pk,
                   instances.c.size)
            .join(studies, instances.c.study_pk == studies.c.pk)
            .join(series, instances.c.series_pk == series.c.pk)
            .where(studies.c.study_uid == study)
        )
        if series_uid is not None:
            stmt = stmt.where(series.c.series_uid == series_uid)
        if sop is not None:
            stmt = stmt.where(instances.c.sop_uid == sop)
        rows = conn.execute(stmt).fetchall()
        if not rows:
            what = sop or series_uid or study
            raise NotFoundError(f"nothing to delete: {what} is not stored")
        conn.execute(delete(instances).where(instances.c.pk.in_([r.pk for r in rows])))
        study_pk = rows[0].study_pk
        for spk in {r.series_pk for r in rows}:
            left = conn.execute(select(instances.c.pk).where(instances.c.series_pk == spk)
                                .limit(1)).first()
            if left is None:
                conn.execute(delete(series).where(series.c.pk == spk))
        remaining = conn.execute(select(instances.c.pk).where(instances.c.study_pk == study_pk)
                                 .limit(1)).first()
        media_blobs: list[str] = []
        if remaining is None:
            media_blobs = list(conn.execute(select(media.c.blob).where(
                media.c.study_pk == study_pk)).scalars())
            conn.execute(delete(studies).where(studies.c.pk == study_pk))
        else:
            recount(conn, set(), {study_pk})
    for r in rows:
        store.delete(r.blob)
    for key in media_blobs:
        if media_store is not None:
            media_store.delete(key)
    if remaining is None:
        events.emit(STUDY_DELETED, {"study": study})
    return len(rows)
