"""Dictation audio stored with a study, and the transcription queue.

Files live under ``<data_dir>/dictations/<study uid>/<uuid>.<ext>`` (synced before the
row commits) and go when the study is deleted. A new dictation is *queued*; a
transcriptionist *claims* it (``in_progress``), plays it (HTTP range requests give the
player its seek bar) and submits the typed text, which is saved into the study's open
report (a new draft when there is none) and marks the dictation ``done``. WAV
dictation can also go through the speech engine for commands and constrained phrases.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select, update

from server.auth.permissions import Principal
from server.db.engine import write_transaction
from server.db.models import studies
from server.db.reports import dictations, reports
from server.db.visibility import visible_studies
from server.services import reports as core
from server.services.events import DICTATION_STORED
from server.services.reports_runtime import ReportServices
from workbench.errors import ConflictError, NotFoundError, WorkbenchError
from workbench.reports.model import Content, VersionKind
from workbench.reports.speech import Transcript, read_wav

MEDIA_TYPES = {"wav": "audio/wav", "webm": "audio/webm", "ogg": "audio/ogg",
               "mp3": "audio/mpeg", "m4a": "audio/mp4"}


def sniff(head: bytes) -> str:
    """The audio container of a file from its first bytes (``ValueError`` if not audio)."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    if head[4:8] == b"ftyp":
        return "m4a"
    raise ValueError("dictation must be audio: WAV, WebM, Ogg, MP3 or M4A")


def folder(rs: ReportServices, study_uid: str) -> Path:
    """Where a study's dictation files are."""
    return study_folder(rs.settings.data_dir, study_uid)


def study_folder(data_dir: Path, study_uid: str) -> Path:
    """Where the dictation files of ``study_uid`` are under ``data_dir``."""
    return data_dir / "dictations" / study_uid


def remove_study_files(data_dir: Path, study_uid: str) -> None:
    """Remove a deleted or purged study's dictation files (its rows went with it)."""
    if study_uid and "/" not in study_uid and study_uid not in (".", ".."):
        shutil.rmtree(study_folder(data_dir, study_uid), ignore_errors=True)


def _sync_folder(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def store(rs: ReportServices, principal: Principal, study_uid: str, temp: Path) -> dict[str, Any]:
    """Keep the uploaded file `temp` as dictation of a visible study; queue it."""
    with open(temp, "rb") as fh:
        head = fh.read(16)
        digest = hashlib.sha256(head)
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    kind = sniff(head)
    with rs.engine.connect() as conn:
        study = core.visible_study(conn, principal, study_uid)
    target = folder(rs, study_uid)
    target.mkdir(parents=True, exist_ok=True)
    path = target / f"{uuid.uuid4().hex}.{kind}"
    with open(temp, "rb") as src, open(path, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
        dst.flush()
        os.fsync(dst.fileno())
    _sync_folder(target)
    now = datetime.now(UTC).replace(tzinfo=None)
    with write_transaction(rs.engine) as conn:
        pk = conn.execute(insert(dictations).values(
            study_pk=study.pk, account_pk=study.account_pk, uploaded_by=principal.user_pk,
            media_type=MEDIA_TYPES[kind], size=path.stat().st_size, sha256=digest.hexdigest(),
            path=str(path.relative_to(rs.settings.data_dir)), state="queued",
            recognized_text="", created_at=now)).inserted_primary_key[0]  # type: ignore[index]
        row = _row(conn, principal, int(pk))
        rs.services.events.emit_with(conn, DICTATION_STORED, {
            "account": study.account_pk, "study": study_uid, "dictation": int(pk),
            "user": principal.user_pk})
    return row


def _select() -> Any:
    return (select(dictations, studies.c.study_uid, studies.c.patient_name,
                   studies.c.description, reports.c.uid.label("report_uid"))
            .join(studies, studies.c.pk == dictations.c.study_pk)
            .outerjoin(reports, reports.c.pk == dictations.c.report_pk))


def _json(r: Any) -> dict[str, Any]:
    return {"id": r.pk, "study_uid": r.study_uid, "patient_name": r.patient_name,
            "study_description": r.description, "media_type": r.media_type, "size": r.size,
            "sha256": r.sha256, "state": r.state, "claimed_by": r.claimed_by,
            "report_id": r.report_uid, "recognized_text": r.recognized_text,
            "uploaded_by": r.uploaded_by, "created_at": r.created_at.isoformat() + "Z",
            "audio": f"/api/dictations/{r.pk}/audio"}


def _row(conn: Connection, principal: Principal, pk: int) -> dict[str, Any]:
    row = conn.execute(_select().where(dictations.c.pk == pk, visible_studies(principal))).first()
    if row is None:
        raise NotFoundError(f"no dictation {pk}")
    return _json(row)


def listing(conn: Connection, principal: Principal, state: str | None,
            study_uid: str | None = None) -> list[dict[str, Any]]:
    """Dictations of studies the caller sees (of one study if given), oldest first."""
    stmt = _select().where(visible_studies(principal))
    if state:
        stmt = stmt.where(dictations.c.state == state)
    if study_uid:
        stmt = stmt.where(studies.c.study_uid == study_uid)
    return [_json(r) for r in conn.execute(stmt.order_by(dictations.c.pk).limit(1000))]


def audio(rs: ReportServices, principal: Principal, pk: int) -> tuple[Path, str]:
    """The file and media type of a dictation the caller sees."""
    with rs.engine.connect() as conn:
        _row(conn, principal, pk)
        row = conn.execute(select(dictations.c.path, dictations.c.media_type)
                           .where(dictations.c.pk == pk)).one()
    return rs.settings.data_dir / row.path, str(row.media_type)


def claim(rs: ReportServices, principal: Principal, pk: int) -> dict[str, Any]:
    """Take a queued dictation (yours again if you hold it)."""
    with write_transaction(rs.engine) as conn:
        current = _row(conn, principal, pk)
        if current["state"] == "done":
            raise ConflictError(f"dictation {pk} is transcribed already")
        if current["state"] == "in_progress" and current["claimed_by"] != principal.user_pk:
            raise ConflictError(f"dictation {pk} is being transcribed by someone else")
        conn.execute(update(dictations).where(dictations.c.pk == pk).values(
            state="in_progress", claimed_by=principal.user_pk,
            claimed_at=datetime.now(UTC).replace(tzinfo=None)))
        return _row(conn, principal, pk)


def _open_report(conn: Connection, study_pk: int, report_pk: int | None) -> str | None:
    if report_pk is not None:
        return conn.execute(select(reports.c.uid).where(reports.c.pk == report_pk)).scalar()
    return conn.execute(select(reports.c.uid).where(reports.c.study_pk == study_pk)
                        .order_by(reports.c.pk.desc()).limit(1)).scalar()


def transcribe(rs: ReportServices, principal: Principal, pk: int, text: str,
               report_uid: str | None, field: str | None) -> dict[str, Any]:
    """Type `text` into the report (appended to `field`), mark the dictation done."""
    if not text.strip():
        raise ValueError("the transcript is empty")
    with rs.engine.connect() as conn:
        current = _row(conn, principal, pk)
        study_pk = conn.execute(select(dictations.c.study_pk, dictations.c.report_pk)
                                .where(dictations.c.pk == pk)).one()
        uid = report_uid or _open_report(conn, study_pk.study_pk, study_pk.report_pk)
    if current["state"] == "done":
        raise ConflictError(f"dictation {pk} is transcribed already")
    if uid is None:
        uid = core.create(rs, principal, current["study_uid"], None, {}).report.uid

    def add_text(report: Any, author: str) -> Any:
        pending = report.pending
        if pending is None:
            return report.add_addendum(Content.of(rs.registry.get("addendum"), {"text": text}),
                                       author, "dictation")
        template = rs.registry.get(pending.content.template, pending.content.template_version)
        target = field or ("text" if pending.kind is VersionKind.ADDENDUM else "findings")
        spec = template.fields.get(target)
        if spec is None or spec.type != "text":
            raise ValueError(f"template {template.id!r} has no text field {target!r}")
        values: Mapping[str, Any] = pending.content.values
        old = str(values.get(target) or "")
        return report.save(Content.of(template, {**values, target: f"{old}\n\n{text}".strip()}),
                           author)

    loaded = core.change(rs, principal, uid, add_text)
    with write_transaction(rs.engine) as conn:
        conn.execute(update(dictations).where(dictations.c.pk == pk).values(
            state="done", report_pk=loaded.pk, transcribed_by=principal.user_pk,
            transcribed_at=datetime.now(UTC).replace(tzinfo=None)))
        return _row(conn, principal, pk)


def recognize(rs: ReportServices, principal: Principal, pk: int) -> Transcript:
    """Run the speech engine on a WAV dictation; keep and return what it heard."""
    path, media_type = audio(rs, principal, pk)
    if media_type != "audio/wav":
        raise ValueError("speech recognition reads WAV dictation; this one is " + media_type)
    try:
        engine = rs.speech()
    except ImportError as exc:  # the speech extra is not installed: say so to the caller
        raise WorkbenchError(str(exc)) from exc
    transcript = engine.transcribe(read_wav(path.read_bytes()))
    with write_transaction(rs.engine) as conn:
        conn.execute(update(dictations).where(dictations.c.pk == pk)
                     .values(recognized_text=transcript.text))
    return transcript


def on_study_deleted(rs: ReportServices, payload: Mapping[str, Any]) -> None:
    """Remove the dictation files of a deleted study (its rows went with it)."""
    remove_study_files(rs.settings.data_dir, str(payload.get("study", "")))
