"""Annotations of studies in the archive: storage, who sees and changes them, audit, billing.

An annotation is visible exactly when its study is (``server/db/visibility.py``).
Creating one needs :data:`ANNOTATE` (reading physicians: PRODUCT.md, "Reading
physicians view, measure ..."; tokens need the ``write`` scope) on a study the caller
sees, shared studies included. Changing or deleting one is for its author (still
holding :data:`ANNOTATE`) and for administrators of the account that owns the study
(holding ``study.delete``); everyone else who sees the study reads it.

The archive measures every annotation itself (``server/services/annotation_values.py``).
When a study gains its first annotation, :data:`ANNOTATION_CREATED` is emitted after the
commit (payload ``account``, ``study``, ``annotation``, ``user``): billing charges the
Advanced Toolset fee on it. Changes are recorded in the audit trail (kind and id only:
labels may hold patient data); the audit middleware records every request as well.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pydicom
from pydicom.dataset import Dataset
from sqlalchemy import Connection, delete, insert, select, update

from server.auth.permissions import Action, Principal, Role, check
from server.db.accounts import users
from server.db.annotations import annotation_rows
from server.db.engine import write_transaction
from server.db.models import studies
from server.db.visibility import visible_studies
from server.services import retrieve
from server.services.annotation_values import (
    AnnotationIn,
    check_points,
    measure,
    measurement_json,
    needs_pixels,
    patient_points,
    points_of,
)
from server.services.audit import AuditEvent
from server.services.events import ANNOTATION_CREATED
from workbench.errors import NotFoundError, PermissionDeniedError

if TYPE_CHECKING:
    from server.deps import Services

ANNOTATE = Action.REPORT_WRITE
"""The action that draws and measures on images (reading physicians, ``write`` scope)."""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def visible_study(conn: Connection, principal: Principal, study_uid: str) -> Any:
    """The study row if `principal` sees it (else ``NotFoundError``)."""
    row = conn.execute(select(studies).where(studies.c.study_uid == study_uid,
                                             visible_studies(principal))).first()
    if row is None:
        raise NotFoundError(f"no study {study_uid} is stored")
    return row


def may_change(principal: Principal, row: Any) -> bool:
    """Whether `principal` may change or delete the annotation `row`."""
    allowed = principal.allowed()
    if principal.user_pk is not None and principal.user_pk == row.author_user_pk:
        return ANNOTATE in allowed
    return (Role.ADMINISTRATOR.value in principal.roles and principal.source_pk is None
            and principal.account_pk == row.account_pk and Action.STUDY_DELETE in allowed)


def as_json(row: Any, study_uid: str, principal: Principal) -> dict[str, Any]:
    """The API form of a stored annotation."""
    return {
        "id": row.pk, "origin": "archive", "study_uid": study_uid, "kind": row.kind,
        "series_uid": row.series_uid, "sop_instance_uid": row.sop_uid,
        "sop_class_uid": row.sop_class_uid, "frame": row.frame,
        "points": json.loads(row.points_json),
        "points_mm": json.loads(row.points_mm_json) if row.points_mm_json else None,
        "label": row.label,
        "measurement": json.loads(row.measurement_json) if row.measurement_json else None,
        "author": {"user_id": row.author_user_pk, "name": row.author},
        "created_at": row.created_at.isoformat() + "Z",
        "updated_at": row.updated_at.isoformat() + "Z",
        "editable": may_change(principal, row),
    }  # fmt: skip


def study_annotations(services: Services, principal: Principal, study_uid: str
                      ) -> list[dict[str, Any]]:
    """The study's stored annotations, oldest first."""
    with services.engine.connect() as conn:
        study = visible_study(conn, principal, study_uid)
        rows = conn.execute(select(annotation_rows).where(annotation_rows.c.study_pk == study.pk)
                            .order_by(annotation_rows.c.pk)).fetchall()
    return [as_json(r, study_uid, principal) for r in rows]


def _image(services: Services, study_uid: str, body: AnnotationIn) -> Dataset:
    """The referenced image: its header, or all of it when measuring reads pixels."""
    with services.engine.connect() as conn:
        try:
            (ref,) = retrieve.find_instances(conn, study_uid, body.series_uid,
                                             body.sop_instance_uid)
        except NotFoundError:
            raise ValueError(f"instance {body.sop_instance_uid} of series {body.series_uid} "
                             f"is not in study {study_uid}") from None
    if needs_pixels(body.kind):
        return retrieve.read_dataset(services.store, ref)
    return read_header(services, ref)


def read_header(services: Services, ref: retrieve.InstanceRef) -> Dataset:
    """The instance without its pixel data (only the bytes before Pixel Data are read when
    the index knows where it starts)."""
    if ref.pixel_offset is not None:
        head = services.store.read_range(ref.blob, 0, ref.pixel_offset)
    else:
        head = services.store.read(ref.blob)
    return pydicom.dcmread(io.BytesIO(head), stop_before_pixels=True)


def _values(services: Services, study_uid: str, body: AnnotationIn) -> dict[str, Any]:
    """Column values of `body` as measured on its image."""
    ds = _image(services, study_uid, body)
    frame = check_points(body, ds)
    result = measure(body, ds, frame)
    points = points_of(result) if result is not None else [[r, c] for r, c in body.points]
    mm = patient_points(ds, frame, points)
    return {"series_uid": body.series_uid, "sop_uid": body.sop_instance_uid,
            "sop_class_uid": str(ds.SOPClassUID), "frame": frame, "kind": body.kind,
            "label": body.label, "points_json": json.dumps(points),
            "points_mm_json": None if mm is None else json.dumps(mm),
            "measurement_json": None if result is None else json.dumps(measurement_json(result))}


def _author(conn: Connection, principal: Principal) -> str:
    row = conn.execute(select(users.c.name, users.c.email)
                       .where(users.c.pk == principal.user_pk)).first()
    if row is None:
        raise PermissionDeniedError("only a member (not an upload key) annotates images")
    return str(row.name or row.email)


def create(services: Services, principal: Principal, study_uid: str, body: AnnotationIn
           ) -> dict[str, Any]:
    """Measure and store a new annotation of a visible study."""
    check(principal, ANNOTATE)
    with services.engine.connect() as conn:
        visible_study(conn, principal, study_uid)
    values = _values(services, study_uid, body)
    with write_transaction(services.engine) as conn:
        study = visible_study(conn, principal, study_uid)
        first = conn.execute(select(annotation_rows.c.pk).where(
            annotation_rows.c.study_pk == study.pk).limit(1)).first() is None
        now = _now()
        key = conn.execute(insert(annotation_rows).values(
            study_pk=study.pk, account_pk=study.account_pk, author_user_pk=principal.user_pk,
            author=_author(conn, principal), created_at=now, updated_at=now, **values)
        ).inserted_primary_key
        pk = int(key[0]) if key else 0
        row = conn.execute(select(annotation_rows).where(annotation_rows.c.pk == pk)).one()
        if first:
            services.events.emit_with(conn, ANNOTATION_CREATED, {
                "account": int(study.account_pk), "study": study_uid, "annotation": int(pk),
                "user": principal.user_pk})
    _audit(services, principal, "annotation.create", row, study_uid)
    return as_json(row, study_uid, principal)


def _changeable(conn: Connection, principal: Principal, study_uid: str, annotation_id: int
                ) -> Any:
    study = visible_study(conn, principal, study_uid)
    row = conn.execute(select(annotation_rows).where(annotation_rows.c.pk == annotation_id,
                                                 annotation_rows.c.study_pk == study.pk)).first()
    if row is None:
        raise NotFoundError(f"no annotation {annotation_id} in study {study_uid}")
    if not may_change(principal, row):
        raise PermissionDeniedError(
            f"annotation {annotation_id} is {row.author}'s: only its author or an "
            "administrator of the study's account may change or delete it")
    return row


def change(services: Services, principal: Principal, study_uid: str, annotation_id: int,
           body: AnnotationIn) -> dict[str, Any]:
    """Replace an annotation's image, points, label and calibration; measure it again."""
    with services.engine.connect() as conn:
        _changeable(conn, principal, study_uid, annotation_id)
    values = _values(services, study_uid, body)
    with write_transaction(services.engine) as conn:
        _changeable(conn, principal, study_uid, annotation_id)
        conn.execute(update(annotation_rows).where(annotation_rows.c.pk == annotation_id)
                     .values(updated_at=_now(), **values))
        row = conn.execute(select(annotation_rows)
                           .where(annotation_rows.c.pk == annotation_id)).one()
    _audit(services, principal, "annotation.update", row, study_uid)
    return as_json(row, study_uid, principal)


def remove(services: Services, principal: Principal, study_uid: str, annotation_id: int) -> None:
    """Delete an annotation."""
    with write_transaction(services.engine) as conn:
        row = _changeable(conn, principal, study_uid, annotation_id)
        conn.execute(delete(annotation_rows).where(annotation_rows.c.pk == annotation_id))
    _audit(services, principal, "annotation.delete", row, study_uid)


def _audit(services: Services, principal: Principal, action: str, row: Any, study_uid: str
           ) -> None:
    services.audit.record(AuditEvent(
        action=action, actor=principal.label, outcome="ok",
        resource=f"annotation {row.pk}", study_uid=study_uid,
        actor_user_pk=principal.user_pk, actor_account_pk=principal.account_pk,
        account_pk=row.account_pk, detail=f"{row.kind} by user {row.author_user_pk}"),
        wait=True)
