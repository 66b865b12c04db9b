"""Reports: templates, writing and signing, verification, exports, distribution, dictation.

Thin edge over ``server/services/reports*.py`` and ``server/services/distribution.py``;
``docs/reports.md`` describes the lifecycle and the rules. A report is visible exactly
when its study is; hidden ones answer 404.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response
from sqlalchemy import delete, insert

from server.auth.permissions import Action, Principal
from server.db.engine import write_transaction
from server.db.reports import report_preferences
from server.deps import IdPath, Myself, Reader, StudyReader, public_base, requires
from server.services import distribution as dist
from server.services import reports as core
from server.services import reports_dictation as dictation
from server.services.reports_keys import key_listing
from server.services.reports_runtime import ReportsDep
from server.services.reports_schemas import (
    Addendum,
    Amendment,
    Distribute,
    Edit,
    NewReport,
    Signing,
    Transcript,
)
from workbench.errors import PayloadTooLargeError
from workbench.reports.model import Content
from workbench.reports.serial import report_to_dict

router = APIRouter(tags=["reports"])
# server.services.reports_export (fpdf2, highdicom) is imported where used: it is not
# needed to start the archive.
Writer = Annotated[Principal, Depends(requires(Action.REPORT_WRITE))]
Signer = Annotated[Principal, Depends(requires(Action.REPORT_SIGN))]
Distributor = Annotated[Principal, Depends(requires(Action.REPORT_DISTRIBUTE))]
Transcriber = Annotated[Principal, Depends(requires(Action.REPORT_TRANSCRIBE))]


def _json(rs: ReportsDep, loaded: core.Loaded, principal: Principal) -> dict[str, Any]:
    shown = core.for_reader(loaded.report, principal) or loaded.report
    out = report_to_dict(shown)
    template = rs.registry.get(shown.in_force.content.template,
                               shown.in_force.content.template_version)
    out.update(id=shown.uid, study_uid=shown.subject.study_uid, template=template.id,
               template_title=template.title,
               pending_version=None if shown.pending is None else shown.pending.number,
               links={k: f"/api/reports/{shown.uid}/{k}" for k in ("pdf", "fhir", "verify")})
    return out


def _template(rs: ReportsDep, loaded: core.Loaded, name: str | None) -> Any:
    pending = loaded.report.pending or loaded.report.in_force
    return rs.registry.get(name) if name else rs.registry.get(
        pending.content.template, pending.content.template_version)


async def _visible(study: str, principal: Principal, rs: ReportsDep) -> Principal:
    with rs.engine.connect() as conn:
        core.visible_study(conn, principal, study)
    return principal


async def study_writer(study: str, principal: Writer, rs: ReportsDep) -> Principal:
    """A report writer who sees `study` (404 otherwise)."""
    return await _visible(study, principal, rs)


StudyWriter = Annotated[Principal, Depends(study_writer)]


@router.get("/report-templates", summary="Report templates")
def templates(rs: ReportsDep, _u: Reader) -> list[dict[str, Any]]:
    """Templates a physician can start a report from."""
    return [{"id": t.id, "version": t.version, "title": t.title, "description": t.description,
             "modalities": list(t.modalities)} for t in rs.registry.selectable()]


@router.get("/report-templates/{template_id}", summary="One report template")
def template(template_id: str, rs: ReportsDep, _u: Reader) -> dict[str, Any]:
    """A template with its sections and typed fields."""
    return rs.registry.get(template_id).model_dump(mode="json")


@router.get("/me/report-preferences", summary="My template per modality")
def my_preferences(rs: ReportsDep, me: Writer) -> dict[str, str]:
    """Template ids by modality (``*``: any)."""
    with rs.engine.connect() as conn:
        return core.preferences(conn, me.user_pk or 0)


@router.put("/me/report-preferences", summary="Set my template per modality")
def set_preferences(body: dict[str, str], rs: ReportsDep, me: Writer) -> dict[str, str]:
    """Replace the preferences: ``{"NM": "nuclear-cardiology-mpi", "*": "free-text"}``."""
    for modality, template_id in body.items():
        if not (modality == "*" or modality.isalnum()) or len(modality) > 16:
            raise ValueError(f"{modality!r} is not a modality")
        if not rs.registry.get(template_id).selectable:
            raise ValueError(f"template {template_id!r} cannot start a report")
    with write_transaction(rs.engine) as conn:
        conn.execute(delete(report_preferences).where(report_preferences.c.user_pk == me.user_pk))
        for modality, template_id in body.items():
            conn.execute(insert(report_preferences).values(
                user_pk=me.user_pk, modality=modality.upper(), template=template_id))
        return core.preferences(conn, me.user_pk or 0)


@router.get("/me/signing-keys", summary="My signing keys")
def my_keys(rs: ReportsDep, me: Signer) -> list[dict[str, object]]:
    """Public keys (current and retired) that verify my signatures."""
    with rs.engine.connect() as conn:
        return key_listing(conn, me.user_pk or 0)


@router.post("/me/signing-keys", status_code=201, summary="Rotate my signing key")
def rotate_key(rs: ReportsDep, me: Signer) -> dict[str, str]:
    """Retire my current key (it still verifies what it signed) and make a new one."""
    with write_transaction(rs.engine) as conn:
        return {"key_id": rs.keys.rotate(conn, me.user_pk or 0)}


@router.get("/studies/{study}/reports", summary="Reports of a study")
def study_reports(study: str, rs: ReportsDep, me: StudyReader) -> list[dict[str, Any]]:
    """The study's reports as the caller may see them (readers: signed text only)."""
    with rs.engine.connect() as conn:
        found = core.study_reports(conn, me, study)
    return [{"id": r.uid, "status": r.status.value, "template": r.in_force.content.template,
             "versions": len(r.versions), "updated_at": r.latest.saved_at} for r in found]


@router.post("/studies/{study}/reports", status_code=201, summary="Start a report")
def create_report(study: str, body: NewReport, rs: ReportsDep, me: StudyWriter
                  ) -> dict[str, Any]:
    """A draft report of the study, from the named or the preferred template."""
    return _json(rs, core.create(rs, me, study, body.template, body.values), me)


@router.get("/studies/{study}/report-sources", summary="Measurements and key images")
def report_sources(study: str, rs: ReportsDep, me: StudyWriter) -> dict[str, Any]:
    """Measurements (SR TID 1500) and key images (KOS) of the study, as field values."""
    return core.report_sources(rs, study)


@router.post("/studies/{study}/dictations", status_code=201, summary="Upload dictation")
async def upload_dictation(study: str, request: Request, rs: ReportsDep, me: StudyWriter
                           ) -> dict[str, Any]:
    """Store dictation audio (WAV, WebM, Ogg, MP3, M4A body) and queue it."""
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if not (kind.startswith("audio/") or kind in ("video/webm", "application/octet-stream")):
        raise HTTPException(415, "send the audio itself with an audio/* Content-Type")
    tmp_dir = rs.settings.data_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=tmp_dir, suffix=".upload")
    try:
        size = 0
        with os.fdopen(fd, "wb") as fh:
            async for chunk in request.stream():
                size += len(chunk)
                if size > rs.settings.max_dictation_bytes:
                    raise PayloadTooLargeError("the dictation is larger than "
                                               f"{rs.settings.max_dictation_bytes} bytes")
                await run_in_threadpool(fh.write, chunk)
        return await run_in_threadpool(dictation.store, rs, me, study, Path(name))
    finally:
        os.unlink(name)


@router.get("/reports/{report_id}", summary="A report")
def get_report(report_id: str, rs: ReportsDep, me: Reader) -> dict[str, Any]:
    """The report with its versions (readers: preliminary and signed ones only)."""
    with rs.engine.connect() as conn:
        return _json(rs, core.find(conn, me, report_id), me)


@router.put("/reports/{report_id}", summary="Save the open version")
def save_report(report_id: str, body: Edit, rs: ReportsDep, me: Writer) -> dict[str, Any]:
    """Store edited values of the draft, preliminary, addendum or amendment (a new version)."""
    def step(report: Any, author: str) -> Any:
        loaded = core.Loaded(0, 0, 0, report)
        return report.save(Content.of(_template(rs, loaded, body.template), body.values), author)

    return _json(rs, core.change(rs, me, report_id, step, expected=body.expected_version), me)


@router.post("/reports/{report_id}/preliminary", summary="Mark preliminary")
def preliminary(report_id: str, rs: ReportsDep, me: Writer) -> dict[str, Any]:
    """Make the unsigned original preliminary (shown to readers as not yet signed)."""
    return _json(rs, core.change(rs, me, report_id, lambda r, a: r.mark_preliminary(a)), me)


@router.post("/reports/{report_id}/sign", summary="Sign (finalise)")
def sign(report_id: str, body: Signing, request: Request, rs: ReportsDep, me: Signer
         ) -> dict[str, Any]:
    """Sign the open version; store SR and PDF in the study; re-send amended reports to
    everyone who received the earlier version."""
    from server.services import reports_export as export

    loaded = core.sign(rs, me, report_id, body.password)
    out = _json(rs, loaded, me)
    try:
        out["archived"] = export.archive(rs, me, loaded)
    except Exception as exc:  # the signature stands; the physician sees what failed
        out["archive_error"] = str(exc)
    out["resent"] = rs.distribution.resend(me, loaded) if len(loaded.report.signed) > 1 else []
    return out


@router.post("/reports/{report_id}/addenda", status_code=201, summary="Start an addendum")
def addendum(report_id: str, body: Addendum, rs: ReportsDep, me: Writer) -> dict[str, Any]:
    """Open an addendum (text appended to the signed report), to be signed."""
    content = Content.of(rs.registry.get("addendum"), {"text": body.text})
    return _json(rs, core.change(rs, me, report_id,
                                 lambda r, a: r.add_addendum(content, a, body.reason)), me)


@router.post("/reports/{report_id}/amendments", status_code=201, summary="Start an amendment")
def amendment(report_id: str, body: Amendment, rs: ReportsDep, me: Writer) -> dict[str, Any]:
    """Open an amendment (replacement values, with a reason), to be signed."""
    def step(report: Any, author: str) -> Any:
        template = _template(rs, core.Loaded(0, 0, 0, report), body.template)
        return report.amend(Content.of(template, body.values), author, body.reason)

    return _json(rs, core.change(rs, me, report_id, step), me)


@router.get("/reports/{report_id}/verify", summary="Verify signatures")
def verify(report_id: str, rs: ReportsDep, me: Reader) -> dict[str, Any]:
    """``valid`` when every signed version and the chain between them are intact."""
    with rs.engine.connect() as conn:
        result = core.verify(conn, core.find(conn, me, report_id))
    return {"valid": result.valid, "signed_versions": result.signed_versions,
            "problems": {str(k): v for k, v in result.problems.items()},
            "summary": result.describe()}


@router.get("/reports/{report_id}/pdf", summary="Report PDF")
def pdf(report_id: str, rs: ReportsDep, me: Reader) -> Response:
    """The report as PDF (letterhead, patient, study, sections, signature block)."""
    from server.services import reports_export as export

    with rs.engine.connect() as conn:
        loaded = core.find(conn, me, report_id)
    shown = core.for_reader(loaded.report, me) or loaded.report
    body = export.pdf_bytes(rs, core.Loaded(loaded.pk, loaded.study_pk, loaded.account_pk, shown))
    return Response(body, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="report-{report_id}.pdf"'})


@router.get("/reports/{report_id}/fhir", summary="FHIR DiagnosticReport")
def fhir(report_id: str, rs: ReportsDep, me: Reader) -> Response:
    """The report as a FHIR R4 DiagnosticReport (application/fhir+json)."""
    from server.services import reports_export as export


    with rs.engine.connect() as conn:
        loaded = core.find(conn, me, report_id)
    shown = core.for_reader(loaded.report, me) or loaded.report
    data = export.fhir_json(rs, core.Loaded(loaded.pk, loaded.study_pk, loaded.account_pk, shown))
    return Response(json.dumps(data), media_type="application/fhir+json")


@router.post("/reports/{report_id}/distribute", status_code=202, summary="Send the report")
def distribute(report_id: str, body: Distribute, request: Request, rs: ReportsDep,
               me: Distributor) -> list[dict[str, Any]]:
    """Queue delivery of the signed report to recipients (default: those the study is
    shared with), by each one's preference: e-mail, fax or both."""
    with rs.engine.connect() as conn:
        loaded = core.find(conn, me, report_id, writing=True)
        recipients = rs.distribution.recipients(
            conn, loaded, [s.model_dump(exclude_none=True) for s in body.recipients])
    rs.distribution.queue(me, loaded, recipients, public_base(request))
    core.audit(rs, me, "report.distribute", loaded, ", ".join(r.name for r in recipients))
    with rs.engine.connect() as conn:
        return dist.deliveries(conn, me, report_pk=loaded.pk)


@router.get("/reports/{report_id}/deliveries", summary="Delivery log of a report")
def report_deliveries(report_id: str, rs: ReportsDep, me: Distributor) -> list[dict[str, Any]]:
    """Every delivery of the report: state, attempts, last error."""
    with rs.engine.connect() as conn:
        loaded = core.find(conn, me, report_id, writing=True)
        return dist.deliveries(conn, me, report_pk=loaded.pk)


@router.get("/report-deliveries", summary="Deliveries by state")
def all_deliveries(rs: ReportsDep, me: Distributor, state: str | None = None
                   ) -> list[dict[str, Any]]:
    """Deliveries of reports the caller sees; ``state=failed`` lists what needs attention."""
    with rs.engine.connect() as conn:
        return dist.deliveries(conn, me, states=tuple(state.split(",")) if state else ())


@router.post("/report-deliveries/{delivery_id}/retry", summary="Retry a failed delivery")
def retry(delivery_id: IdPath, rs: ReportsDep, me: Distributor) -> dict[str, str]:
    """Queue a failed delivery again."""
    with write_transaction(rs.engine) as conn:
        rs.distribution.retry(conn, me, delivery_id)
    return {"state": "queued"}


@router.get("/report-links/{token}", summary="Open a report link")
def report_link(token: str, rs: ReportsDep, me: Myself) -> Response:
    """The PDF an e-mailed link points to, for its recipient only, until it expires."""
    from server.services import reports_export as export


    with rs.engine.connect() as conn:
        report_pk, version = rs.distribution.open_link(conn, me, token[:200])
        loaded = core.load_pk(conn, report_pk)
    shown = replace(loaded.report, versions=tuple(v for v in loaded.report.versions
                                                  if v.number <= version))
    core.audit(rs, me, "report.link", loaded, f"version {version}")
    return Response(export.pdf_bytes(rs, replace(loaded, report=shown)),
                    media_type="application/pdf")


@router.get("/dictations", summary="Dictation queue")
def dictations(rs: ReportsDep, me: Transcriber, state: str | None = None,
               study: str | None = None) -> list[dict[str, Any]]:
    """Dictations of studies the caller sees (``state=queued`` for the queue; ``study``:
    of that study only)."""
    with rs.engine.connect() as conn:
        return dictation.listing(conn, me, state, study[:64] if study else None)


@router.get("/dictations/{dictation_id}/audio", summary="Play dictation")
def dictation_audio(dictation_id: IdPath, rs: ReportsDep, me: Transcriber) -> FileResponse:
    """The audio file (range requests supported, for seeking)."""
    path, media_type = dictation.audio(rs, me, dictation_id)
    return FileResponse(path, media_type=media_type)


@router.post("/dictations/{dictation_id}/claim", summary="Take a dictation")
def claim(dictation_id: IdPath, rs: ReportsDep, me: Transcriber) -> dict[str, Any]:
    """Mark the dictation as being transcribed by the caller."""
    return dictation.claim(rs, me, dictation_id)


@router.post("/dictations/{dictation_id}/transcript", summary="Submit the transcript")
def transcript(dictation_id: IdPath, body: Transcript, rs: ReportsDep, me: Transcriber
               ) -> dict[str, Any]:
    """Type the text into the study's open report (a new draft if none); done."""
    return dictation.transcribe(rs, me, dictation_id, body.text, body.report_id, body.field)


@router.post("/dictations/{dictation_id}/recognize", summary="Speech recognition")
def recognize(dictation_id: IdPath, rs: ReportsDep, me: Transcriber) -> dict[str, Any]:
    """Commands and constrained phrases heard in a WAV dictation (offline engine)."""
    heard = dictation.recognize(rs, me, dictation_id)
    return {"text": heard.text, "engine": heard.engine, "command": heard.command}
