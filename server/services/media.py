"""Media uploads: non-DICOM files of a study or a patient folder.

A file is streamed into the media store (``<data_dir>/media``) while its SHA-256 is
computed, made durable, typed from its content (``workbench.filetypes``), then recorded.
A file identical to one already in the same study or folder is recognised and not stored
twice. PDFs and images can also be stored as DICOM (Encapsulated PDF, Secondary Capture)
through the normal ingest pipeline, so that other PACS receive them.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from io import BytesIO
from typing import Any, BinaryIO

from sqlalchemy import Connection, insert, select

from server.auth.permissions import Principal
from server.auth.tokens import now_utc
from server.db.media import media
from server.db.models import patients, studies
from server.db.visibility import visible_patients, visible_studies
from server.services.ingest import Ingestor
from server.services.placement import Placement
from server.storage.local import LocalBlobStore
from workbench.dicom.wrap import encapsulated_pdf, secondary_capture
from workbench.errors import NotFoundError, PayloadTooLargeError
from workbench.filetypes import SNIFF_BYTES, FileType, detect, fits

CHUNK = 1 << 20
UPLOAD_TYPES = ("dicom_images", "image", "document", "scanned_document", "audio", "video",
                "other")


@dataclass(frozen=True)
class Target:
    """Where an upload goes: the account's folder and, optionally, one of its studies."""

    account_pk: int
    patient_pk: int
    study_pk: int | None
    study_uid: str | None
    context: dict[str, str]


def resolve_target(conn: Connection, principal: Principal, *, study_uid: str | None,
                   patient_id: str | None, issuer: str = "") -> Target:
    """The study or folder an upload belongs to; 404 unless the caller sees it."""
    if study_uid:
        row = conn.execute(select(studies).where(studies.c.study_uid == study_uid,
                                                 visible_studies(principal))).first()
        if row is None:
            raise NotFoundError(f"no study {study_uid} is stored")
        return Target(row.account_pk, row.patient_pk, row.pk, row.study_uid, {
            "PatientName": row.patient_name, "PatientID": row.patient_id,
            "IssuerOfPatientID": row.issuer, "PatientBirthDate": row.birth_date,
            "PatientSex": row.sex, "StudyInstanceUID": row.study_uid,
            "StudyDate": row.study_date, "StudyTime": row.study_time,
            "AccessionNumber": row.accession, "StudyID": row.study_id,
            "ReferringPhysicianName": row.referring_physician,
            "StudyDescription": row.description})
    if not patient_id:
        raise ValueError("give study_uid or patient_id: a file belongs to a study or a folder")
    rows = conn.execute(select(patients).where(
        patients.c.patient_id == patient_id, patients.c.issuer == issuer,
        visible_patients(principal)).order_by(patients.c.pk)).fetchall()
    own = [r for r in rows if r.account_pk == principal.account_pk]
    if not rows:
        raise NotFoundError(f"no patient folder for Patient ID {patient_id!r} with issuer "
                            f"{issuer!r}")
    row = (own or rows)[0]
    return Target(row.account_pk, row.pk, None, None, {
        "PatientName": row.name, "PatientID": row.patient_id, "IssuerOfPatientID": row.issuer,
        "PatientBirthDate": row.birth_date, "PatientSex": row.sex})


@dataclass(frozen=True)
class Received:
    """A file written durably to the media store."""

    key: str
    size: int
    sha256: str
    kind: FileType


def receive_file(stream: BinaryIO, store: LocalBlobStore, max_bytes: int) -> Received:
    """Copy an uploaded file into a new durable blob, hashing and typing it on the way.

    ZIP-based files are typed from their whole content (a Word document is a ZIP).
    """
    key = store.new_key(suffix=".bin")
    digest = hashlib.sha256()
    head = bytearray()
    size = 0
    fd = store.create(key)
    try:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLargeError(f"the file exceeds the limit of {max_bytes} bytes")
            digest.update(chunk)
            if len(head) < SNIFF_BYTES:
                head += chunk[:SNIFF_BYTES - len(head)]
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view):]
    except BaseException:
        os.close(fd)
        store.delete(key)
        raise
    os.close(fd)
    store.complete(key)
    store.sync([key])
    kind = detect(bytes(head))
    if kind.media_type == "application/zip":
        kind = detect(store.read(key))
    return Received(key, size, digest.hexdigest(), kind)


def find_duplicate(conn: Connection, target: Target, sha256: str) -> Any | None:
    """An identical file already in the same study (or the same folder, outside studies)."""
    stmt = select(media).where(media.c.sha256 == sha256, media.c.patient_pk == target.patient_pk)
    stmt = stmt.where(media.c.study_pk == target.study_pk if target.study_pk is not None
                      else media.c.study_pk.is_(None))
    return conn.execute(stmt).first()


def record(conn: Connection, target: Target, received: Received, *, upload_type: str,
           filename: str, description: str, principal: Principal, sop_uid: str | None
           ) -> int:
    """Insert the media row; its pk."""
    return int(conn.execute(insert(media).values(
        account_pk=target.account_pk, patient_pk=target.patient_pk, study_pk=target.study_pk,
        upload_type=upload_type, media_type=received.kind.media_type,
        description=description or received.kind.description, filename=filename,
        size=received.size, sha256=received.sha256, blob=received.key, sop_uid=sop_uid,
        uploaded_by=principal.user_pk, uploader=principal.label, created_at=now_utc(),
    )).inserted_primary_key[0])  # type: ignore[index]


def store_as_dicom(ingestor: Ingestor, store: LocalBlobStore, target: Target,
                   received: Received, filename: str, principal: Principal) -> str | None:
    """Also store a PDF or an image as DICOM in the study; the new SOP Instance UID.

    Returns None for other types. Raises ``ValueError`` when the DICOM object is refused.
    """
    data = store.read(received.key)
    if received.kind.media_type == "application/pdf":
        ds = encapsulated_pdf(data, target.context, title=filename)
    elif received.kind.category == "image" and received.kind.media_type != "image/svg+xml":
        ds = secondary_capture(data, target.context, title=filename)
    else:
        return None
    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    outcome = ingestor.store_bytes(buffer.getvalue(), placement=Placement(
        target.account_pk, None, principal))
    if not outcome.ok:
        raise ValueError(f"storing {filename} as DICOM failed: {outcome.reason}")
    return str(ds.SOPInstanceUID)


def safe_filename(name: str | None, kind: FileType) -> str:
    """A file name fit to show and to send back: no folders, no control characters."""
    base = os.path.basename((name or "").replace("\\", "/")).strip()
    base = "".join(c for c in base if c.isprintable() and c not in '"<>|')[:200]
    return base or f"upload{kind.extension}"


def check_type(kind: FileType, upload_type: str) -> str | None:
    """Why a detected type is refused for the chosen upload type, or None."""
    if kind.refusal:
        return kind.refusal
    if not fits(kind, upload_type):
        return (f"the file is a {kind.description}, which is not a valid "
                f"{upload_type.replace('_', ' ')} upload")
    return None
