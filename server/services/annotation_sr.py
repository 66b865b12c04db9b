"""Annotations as DICOM SR TID 1500 measurement reports: export into the archive, import.

Export writes the study's measurements (arrows and text have no place in TID 1500 and
are left out) with :func:`workbench.measure.sr.measurement_report`, one document per
author (the author is the document's person observer), all in one new series, and
stores them into the study through the ingest pipeline like any STOW-RS instance, so
every DICOM viewer retrieves them over WADO. Import reads every TID 1500 document
stored in a study (from this archive or from elsewhere) with
:func:`workbench.measure.sr_read.read_measurement_report` and lists its measurements in
the annotation JSON form, read-only (``"origin": "sr"``).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import highdicom as hd
from pydicom.dataset import Dataset
from sqlalchemy import select

from server.auth.permissions import Principal, check
from server.db.annotations import annotation_rows
from server.services import retrieve
from server.services.annotation_values import (
    measurement_from_json,
    measurement_json,
    patient_points,
    points_of,
)
from server.services.annotations import ANNOTATE, read_header, visible_study
from server.services.placement import Placement
from workbench.errors import ConflictError, NotFoundError
from workbench.measure import ImageReference, PlanarMeasurement, tool_name
from workbench.measure.sr import measurement_report
from workbench.measure.sr_read import read_measurement_report

if TYPE_CHECKING:
    from server.deps import Services

log = logging.getLogger(__name__)

SR_CLASSES = frozenset({"1.2.840.10008.5.1.4.1.1.88.34", "1.2.840.10008.5.1.4.1.1.88.33",
                        "1.2.840.10008.5.1.4.1.1.88.22"})
"""Comprehensive 3D, Comprehensive and Enhanced SR: the documents that hold TID 1500."""
SERIES_NUMBER = 9901


class _Headers(Mapping[str, Dataset]):
    """Headers of a study's instances by SOP Instance UID, read on first use."""

    def __init__(self, services: Services, refs: list[retrieve.InstanceRef]) -> None:
        self._services = services
        self._refs = {r.sop_uid: r for r in refs}
        self._read: dict[str, Dataset] = {}

    def __getitem__(self, uid: str) -> Dataset:
        if uid not in self._read:
            self._read[uid] = read_header(self._services, self._refs[uid])
        return self._read[uid]

    def __iter__(self) -> Iterator[str]:
        return iter(self._refs)

    def __len__(self) -> int:
        return len(self._refs)

    def series_of(self, uid: str) -> str:
        """Series Instance UID of an instance of the study ("" when not in it)."""
        ref = self._refs.get(uid)
        return ref.series_uid if ref else ""


def _instances(services: Services, study_uid: str) -> list[retrieve.InstanceRef]:
    with services.engine.connect() as conn:
        try:
            return retrieve.find_instances(conn, study_uid)
        except NotFoundError:
            return []


def _observer(name: str) -> str:
    """A DICOM person name (PN component group, at most 64 characters) for an author.

    A name without ``^`` becomes the family name (a trailing ``^`` says so, PS3.5 6.2).
    """
    cleaned = "".join(ch for ch in name if ch not in "\\=" and ch.isprintable()).strip()
    cleaned = cleaned[:63] or "unknown"
    return cleaned if "^" in cleaned else cleaned + "^"


def export(services: Services, principal: Principal, study_uid: str,
           ids: list[int] | None = None) -> dict[str, Any]:
    """Store the study's measurements (or those with `ids`) as TID 1500 SR documents.

    Raises
    ------
    ValueError
        An id that is no annotation of the study, or nothing to export.
    ConflictError
        The archive refused a document (the message says why).
    """
    check(principal, ANNOTATE)
    with services.engine.connect() as conn:
        study = visible_study(conn, principal, study_uid)
        query = select(annotation_rows).where(annotation_rows.c.study_pk == study.pk)
        if ids is not None:
            query = query.where(annotation_rows.c.pk.in_(ids))
        rows = conn.execute(query.order_by(annotation_rows.c.pk)).fetchall()
    missing = sorted(set(ids or ()) - {r.pk for r in rows})
    if missing:
        raise ValueError(f"annotation {missing[0]} is not in study {study_uid}")
    headers = _Headers(services, _instances(services, study_uid))
    skipped = [{"id": r.pk, "reason": f"{r.kind} annotations are not measurements"}
               for r in rows if not r.measurement_json]
    skipped += [{"id": r.pk, "reason": f"its image {r.sop_uid} is no longer stored"}
                for r in rows if r.measurement_json and r.sop_uid not in headers]
    measured = [r for r in rows if r.measurement_json and r.sop_uid in headers]
    if not measured:
        raise ValueError(f"study {study_uid} has no measurements to export (arrows and "
                         "text are not part of a measurement report)")
    by_author: dict[tuple[int | None, str], list[Any]] = {}
    for row in measured:
        by_author.setdefault((row.author_user_pk, row.author), []).append(row)
    series_uid = hd.UID()
    placement = Placement(int(study.account_pk), None, principal)
    stored = []
    for number, ((_, author), group) in enumerate(by_author.items(), start=1):
        measurements = [_measurement(r) for r in group]
        evidence = [headers[uid] for uid in dict.fromkeys(r.sop_uid for r in group)]
        sr = measurement_report(measurements, evidence, series_instance_uid=series_uid,
                                series_number=SERIES_NUMBER, instance_number=number,
                                observer_name=_observer(author))
        buffer = io.BytesIO()
        sr.save_as(buffer, enforce_file_format=True)
        outcome = services.ingestor.store_bytes(buffer.getvalue(), expected_study=study_uid,
                                                placement=placement)
        if not outcome.ok:
            raise ConflictError(f"the archive refused the measurement report: {outcome.reason}")
        stored.append({"sop_instance_uid": str(sr.SOPInstanceUID), "author": author,
                       "annotations": [r.pk for r in group]})
    return {"series_uid": str(series_uid), "instances": stored,
            "skipped": sorted(skipped, key=lambda item: int(item["id"]))}


def _measurement(row: Any) -> PlanarMeasurement:
    image = ImageReference(row.sop_class_uid, row.sop_uid, row.frame)
    return measurement_from_json(row.kind, json.loads(row.points_json),
                                 json.loads(row.measurement_json), image)


def study_reports(services: Services, study_uid: str) -> list[dict[str, Any]]:
    """Measurements of every TID 1500 document stored in the study, in the annotation form."""
    refs = _instances(services, study_uid)
    headers = _Headers(services, refs)
    out: list[dict[str, Any]] = []
    for ref in refs:
        if ref.sop_class_uid not in SR_CLASSES:
            continue
        ds = retrieve.read_dataset(services.store, ref)
        try:
            found = read_measurement_report(ds, images=headers)
        except (ValueError, KeyError, AttributeError, TypeError) as exc:
            # not a measurement report, or one workbench cannot read; no patient data logged
            log.info("SR %s not listed: %s", ref.sop_uid, type(exc).__name__)
            continue
        out += [_listed(m, ref, headers) for m in found]
    return out


def _listed(m: PlanarMeasurement, sr: retrieve.InstanceRef, headers: _Headers
            ) -> dict[str, Any]:
    image = m.image
    assert image is not None  # read_measurement_report places every measurement
    points = points_of(m)
    header = headers.get(image.sop_instance_uid)
    return {
        "id": None, "origin": "sr",
        "sr": {"series_uid": sr.series_uid, "sop_instance_uid": sr.sop_uid},
        "study_uid": sr.study_uid, "kind": tool_name(m),
        "series_uid": headers.series_of(image.sop_instance_uid),
        "sop_instance_uid": image.sop_instance_uid, "sop_class_uid": image.sop_class_uid,
        "frame": image.frame, "points": points,
        "points_mm": None if header is None else patient_points(header, image.frame, points),
        "label": "", "measurement": measurement_json(m), "author": None,
        "created_at": None, "updated_at": None, "editable": False,
    }  # fmt: skip
