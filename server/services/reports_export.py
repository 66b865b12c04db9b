"""Exports of stored reports: PDF, FHIR DiagnosticReport, and SR + Encapsulated PDF stored
back into the report's study through the ingest pipeline (once per signed version).

The letterhead is the study's account (practice name and e-mail). Key images are
rendered from the archive (512-pixel JPEG thumbnails of the referenced instances).
"""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from sqlalchemy import insert, select

from server.auth.permissions import Principal
from server.db.accounts import accounts
from server.db.engine import write_transaction
from server.db.models import instances
from server.db.reports import report_exports
from server.services import retrieve
from server.services.placement import Placement
from server.services.reports import Loaded
from server.services.reports_runtime import ReportServices
from workbench.errors import WorkbenchError
from workbench.imaging.render import thumbnail
from workbench.reports.dicom_export import encapsulated_pdf, report_sr
from workbench.reports.fhir import diagnostic_report
from workbench.reports.pdf import KeyImage, Letterhead, report_pdf

log = logging.getLogger(__name__)


def letterhead(rs: ReportServices, account_pk: int) -> Letterhead:
    """The practice owning the study."""
    with rs.engine.connect() as conn:
        row = conn.execute(select(accounts.c.name, accounts.c.email)
                           .where(accounts.c.pk == account_pk)).first()
    if row is None:
        return Letterhead("workbench")
    return Letterhead(row.name, (row.email,) if row.email else ())


def _header(rs: ReportServices, blob: str) -> Dataset:
    return pydicom.dcmread(rs.services.store.path(blob), stop_before_pixels=True)


def study_header(rs: ReportServices, study_uid: str) -> Dataset:
    """A header (no pixel data) of an instance of the study: its patient and study."""
    with rs.engine.connect() as conn:
        refs = retrieve.find_instances(conn, study_uid)
    return _header(rs, refs[0].blob)


def _image_refs(loaded: Loaded) -> list[dict[str, Any]]:
    values = loaded.report.in_force.content.values
    return [ref for value in values.values() if isinstance(value, list)
            for ref in value if isinstance(ref, dict) and "sop_instance_uid" in ref]


def key_images(rs: ReportServices, loaded: Loaded) -> list[KeyImage]:
    """Rendered key images of the version in force (ones that cannot render are left out)."""
    out = []
    study = loaded.report.subject.study_uid
    for ref in _image_refs(loaded):
        try:
            with rs.engine.connect() as conn:
                found = retrieve.find_instances(conn, study, ref["series_uid"],
                                                ref["sop_instance_uid"])
            ds = retrieve.read_dataset(rs.services.store, found[0])
            out.append(KeyImage(thumbnail(ds, size=512), ref.get("caption", "")))
        except (WorkbenchError, ValueError, OSError, AttributeError) as exc:
            log.warning("key image %s not rendered: %s", ref["sop_instance_uid"], exc)
    return out


def pdf_bytes(rs: ReportServices, loaded: Loaded) -> bytes:
    """The report's PDF."""
    return report_pdf(loaded.report, rs.registry, letterhead=letterhead(rs, loaded.account_pk),
                      key_images=key_images(rs, loaded))


def fhir_json(rs: ReportServices, loaded: Loaded, *, with_pdf: bool = True) -> dict[str, Any]:
    """The FHIR R4 DiagnosticReport."""
    pdf = pdf_bytes(rs, loaded) if with_pdf else None
    return diagnostic_report(loaded.report, rs.registry, pdf=pdf)


def _part10(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def archive(rs: ReportServices, principal: Principal, loaded: Loaded) -> dict[str, str]:
    """Store the signed report as SR and Encapsulated PDF into its study.

    Returns the new SOP Instance UIDs by kind (``sr``, ``pdf``).

    Raises
    ------
    WorkbenchError
        The archive refused an instance (the message says why).
    """
    report = loaded.report
    version = report.latest
    if not version.signed:
        raise WorkbenchError("only signed versions are archived")
    study_uid = report.subject.study_uid
    header = study_header(rs, study_uid)
    with rs.engine.connect() as conn:
        earlier = conn.execute(select(instances.c.blob).join(
            report_exports, report_exports.c.sop_uid == instances.c.sop_uid).where(
            report_exports.c.report_pk == loaded.pk, report_exports.c.kind == "sr")).scalars()
        previous = [_header(rs, blob) for blob in earlier]
    images = {}
    for ref in _image_refs(loaded):
        with rs.engine.connect() as conn:
            blob = conn.execute(select(instances.c.blob).where(
                instances.c.sop_uid == ref["sop_instance_uid"])).scalar()
        if blob is not None:
            images[ref["sop_instance_uid"]] = _header(rs, blob)
    letter = letterhead(rs, loaded.account_pk)
    sr = report_sr(report, rs.registry, header, images=images, previous_versions=previous,
                   organization=letter.name, instance_number=version.number)
    template = rs.registry.get(version.content.template, version.content.template_version)
    pdf = encapsulated_pdf(pdf_bytes(rs, loaded), header, title=template.title,
                           concept=template.code, signed_at=version.saved_at,
                           instance_number=version.number)
    stored: dict[str, str] = {}
    placement = Placement(loaded.account_pk, None, principal)
    for kind, ds in (("sr", sr), ("pdf", pdf)):
        outcome = rs.services.ingestor.store_bytes(_part10(ds), expected_study=study_uid,
                                                   placement=placement)
        if not outcome.ok:
            raise WorkbenchError(f"the archive refused the report {kind}: {outcome.reason}")
        stored[kind] = str(ds.SOPInstanceUID)
    with write_transaction(rs.engine) as conn:
        for kind, sop in stored.items():
            conn.execute(insert(report_exports).values(
                report_pk=loaded.pk, version_number=version.number, kind=kind, sop_uid=sop,
                created_at=datetime.now(UTC).replace(tzinfo=None)))
    return stored


def exports(rs: ReportServices, loaded: Loaded) -> list[dict[str, Any]]:
    """The SR and PDF instances stored for the report, oldest first."""
    with rs.engine.connect() as conn:
        rows = conn.execute(select(report_exports).where(report_exports.c.report_pk == loaded.pk)
                            .order_by(report_exports.c.pk)).fetchall()
    return [{"version": r.version_number, "kind": r.kind, "sop_uid": r.sop_uid} for r in rows]
