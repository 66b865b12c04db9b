"""Media uploads: any file a practice has, in a study or the patient's folder.

``POST /api/media`` takes ``multipart/form-data`` with one or more ``files`` and the
target (``study_uid``, or ``patient_id`` and ``issuer``); ``upload_type`` is one of
:data:`UPLOAD_TYPES`. DICOM files (``dicom_images``) go through the DICOM ingest as
STOW-RS does; everything else is typed from its content and kept as it is.
"""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import delete, select

from server.auth.permissions import Principal
from server.db.engine import write_transaction
from server.db.media import media
from server.db.models import patients, studies
from server.db.visibility import visible_media
from server.deps import IdPath, MediaDeleter, OffsetQuery, Reader, Services, ServicesDep, Storer
from server.services import media as uploads
from server.services.events import MEDIA_STORED
from server.services.placement import Placement
from workbench.errors import NotFoundError, PayloadTooLargeError, WorkbenchError
from workbench.filetypes import detect

router = APIRouter(tags=["Media"])
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class MediaItem(BaseModel):
    """A file as listed: what it is, where it belongs, who uploaded it and when."""

    id: int
    filename: str
    media_type: str
    description: str
    upload_type: str
    size: int
    sha256: str
    study_uid: str | None
    patient_id: str
    issuer: str
    uploaded_by: str
    uploaded_at: str
    sop_uid: str | None
    inline: bool
    content_url: str


MEDIA_LISTING = (select(media, studies.c.study_uid, patients.c.patient_id, patients.c.issuer)
         .join(patients, patients.c.pk == media.c.patient_pk)
         .outerjoin(studies, studies.c.pk == media.c.study_pk))


def item(row: Any) -> MediaItem:
    """The listing of a media row (joined with its study and folder)."""
    return MediaItem(id=row.pk, filename=row.filename, media_type=row.media_type,
                     description=row.description, upload_type=row.upload_type, size=row.size,
                     sha256=row.sha256, study_uid=row.study_uid, patient_id=row.patient_id,
                     issuer=row.issuer, uploaded_by=row.uploader,
                     uploaded_at=row.created_at.isoformat() + "Z", sop_uid=row.sop_uid,
                     inline=detect_inline(row.media_type),
                     content_url=f"/api/media/{row.pk}/content")


def detect_inline(media_type: str) -> bool:
    """Whether files of this type are shown inline (PDF, images, audio, video)."""
    return (media_type == "application/pdf" or media_type.startswith(("audio/", "video/"))
            or (media_type.startswith("image/") and media_type not in ("image/svg+xml",
                                                                       "image/tiff")))


def _store_one(services: Services, principal: Principal, upload: UploadFile,
               target: uploads.Target, upload_type: str, description: str,
               as_dicom: bool) -> dict[str, Any]:
    received = uploads.receive_file(upload.file, services.media_store,
                                    services.settings.max_media_bytes)
    name = uploads.safe_filename(upload.filename, received.kind)
    refusal = uploads.check_type(received.kind, upload_type)
    if refusal:
        services.media_store.delete(received.key)
        return {"filename": name, "reason": refusal}
    with write_transaction(services.engine) as conn:
        known = uploads.find_duplicate(conn, target, received.sha256)
        if known is not None:
            services.media_store.delete(received.key)
            row = conn.execute(MEDIA_LISTING.where(media.c.pk == known.pk)).one()
            return {**item(row).model_dump(), "duplicate": True}
    sop = (uploads.store_as_dicom(services.ingestor, services.media_store, target, received,
                                  name, principal) if as_dicom else None)
    with write_transaction(services.engine) as conn:
        pk = uploads.record(conn, target, received, upload_type=upload_type, filename=name,
                            description=description, principal=principal, sop_uid=sop)
        row = conn.execute(MEDIA_LISTING.where(media.c.pk == pk)).one()
        services.events.emit_with(conn, MEDIA_STORED, {
            "account": target.account_pk, "study": target.study_uid, "media": pk,
            "upload_type": upload_type})
    return {**item(row).model_dump(), "duplicate": False}


def _store_dicom(services: Services, principal: Principal, upload: UploadFile
                 ) -> dict[str, Any]:
    data = upload.file.read(services.settings.max_instance_bytes + 1)
    name = upload.filename or "upload.dcm"
    if len(data) > services.settings.max_instance_bytes:
        return {"filename": name, "reason": "the DICOM file exceeds the instance size limit"}
    if detect(data).category != "dicom":
        return {"filename": name, "reason": f"the file is a {detect(data).description}, "
                                            "not a DICOM file"}
    outcome = services.ingestor.store_bytes(data, placement=Placement(
        principal.account_pk, None, principal))
    if not outcome.ok:
        return {"filename": name, "reason": outcome.reason}
    return {"filename": name, "sop_uid": outcome.sop_uid, "study_uid": outcome.study_uid,
            "duplicate": bool(outcome.warning)}


@router.post("/media", status_code=201, summary="Upload files to a study or a patient folder")
async def upload_media(
    request: Request, services: ServicesDep, principal: Storer,
    files: Annotated[list[UploadFile], File(description="one or more files")],
    upload_type: Annotated[str, Form(description=", ".join(uploads.UPLOAD_TYPES))] = "other",
    study_uid: Annotated[str | None, Form(max_length=64)] = None,
    patient_id: Annotated[str | None, Form(max_length=64)] = None,
    issuer: Annotated[str, Form(max_length=64)] = "",
    description: Annotated[str, Form(max_length=200)] = "",
    store_as_dicom: Annotated[bool, Form(description="also store PDFs and images as DICOM")
                              ] = False,
) -> JSONResponse:
    """Store each file; answers which were stored (or recognised as duplicates) and which
    were refused, with the reason."""
    if upload_type not in uploads.UPLOAD_TYPES:
        raise ValueError(f"upload_type must be one of {', '.join(uploads.UPLOAD_TYPES)}")
    loop = asyncio.get_running_loop()
    stored: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    if upload_type != "dicom_images":
        with services.engine.connect() as conn:
            target = uploads.resolve_target(conn, principal, study_uid=study_uid,
                                            patient_id=patient_id, issuer=issuer)
    for upload in files:
        try:
            if upload_type == "dicom_images":
                result = await loop.run_in_executor(None, _store_dicom, services, principal,
                                                    upload)
            else:
                result = await loop.run_in_executor(None, _store_one, services, principal,
                                                    upload, target, upload_type, description,
                                                    store_as_dicom)
        except PayloadTooLargeError as exc:
            result = {"filename": upload.filename or "", "reason": str(exc)}
        except (WorkbenchError, ValueError) as exc:
            result = {"filename": upload.filename or "", "reason": str(exc)}
        (failed if "reason" in result else stored).append(result)
    status = 201 if stored else (413 if any("limit" in f["reason"] for f in failed) else 415)
    return JSONResponse({"stored": stored, "failed": failed}, status_code=status)


@router.get("/media", response_model=list[MediaItem], summary="Files of studies and folders")
def list_media(services: ServicesDep, principal: Reader,
               study_uid: str | None = Query(None, max_length=64),
               patient_id: str | None = Query(None, max_length=64),
               issuer: str | None = Query(None, max_length=64),
               limit: int = Query(100, ge=1, le=1000), offset: OffsetQuery = 0,
               ) -> list[MediaItem]:
    """Files the caller may see, newest first, with who uploaded them and when."""
    stmt = MEDIA_LISTING.where(visible_media(principal))
    if study_uid is not None:
        stmt = stmt.where(studies.c.study_uid == study_uid)
    if patient_id is not None:
        stmt = stmt.where(patients.c.patient_id == patient_id)
    if issuer is not None:
        stmt = stmt.where(patients.c.issuer == issuer)
    stmt = stmt.order_by(media.c.pk.desc()).limit(limit).offset(offset)
    with services.engine.connect() as conn:
        return [item(r) for r in conn.execute(stmt).fetchall()]


def _visible_row(services: Services, principal: Principal, media_id: int) -> Any:
    with services.engine.connect() as conn:
        row = conn.execute(MEDIA_LISTING.where(media.c.pk == media_id, visible_media(principal))
                           ).first()
    if row is None:
        raise NotFoundError(f"no file {media_id}")
    return row


@router.get("/media/{media_id}", response_model=MediaItem, summary="One file's description")
def media_info(media_id: IdPath, services: ServicesDep, principal: Reader) -> MediaItem:
    """What the file is, where it belongs, who uploaded it."""
    return item(_visible_row(services, principal, media_id))


@router.get("/media/{media_id}/content", summary="Download a file (native form)")
def media_content(media_id: IdPath, request: Request, services: ServicesDep,
                  principal: Reader) -> Response:
    """The bytes as uploaded, with their type; PDFs, images, audio and video inline,
    everything else as an attachment. Single byte ranges are served (audio players)."""
    row = _visible_row(services, principal, media_id)
    request.state.audit_account = row.account_pk
    data = services.media_store.read(row.blob)
    disposition = "inline" if detect_inline(row.media_type) else "attachment"
    headers = {
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(row.filename)}",
        "X-Content-Type-Options": "nosniff", "Accept-Ranges": "bytes",
        "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self'; "
                                   "media-src 'self'; object-src 'self'",
        "ETag": f'"{row.sha256}"', "Cache-Control": "private, no-store"}
    wanted = _RANGE.match(request.headers.get("range", "").strip())
    if wanted and (wanted.group(1) or wanted.group(2)):
        start_s, end_s = wanted.groups()
        size = len(data)
        start = int(start_s) if start_s else max(0, size - int(end_s))
        end = min(int(end_s), size - 1) if start_s and end_s else size - 1
        if start >= size or start > end:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        return Response(data[start:end + 1], status_code=206, media_type=row.media_type,
                        headers=headers)
    return Response(data, media_type=row.media_type, headers=headers)


@router.delete("/media/{media_id}", summary="Delete a file (administrators)")
def delete_media(media_id: IdPath, services: ServicesDep, principal: MediaDeleter
                 ) -> dict[str, bool]:
    """Remove an uploaded file of the caller's account (its DICOM copy, if any, stays)."""
    row = _visible_row(services, principal, media_id)
    if row.account_pk != principal.account_pk:
        raise NotFoundError(f"no file {media_id} of your account")
    with write_transaction(services.engine, durable=True) as conn:
        conn.execute(delete(media).where(media.c.pk == media_id))
    services.media_store.delete(row.blob)
    return {"deleted": True}
