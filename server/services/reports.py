"""Reports of studies in the archive: storage, visibility and the lifecycle steps.

A report is visible exactly when its study is. Members who write or transcribe
reports see every version; everyone else who sees the study (referring physicians,
recipients, technologists) sees only preliminary and signed versions. Every step loads
the report, applies the library's lifecycle (``workbench.reports.model``) and inserts
the versions it added, in one write transaction.

Billing hook: when a study gains its first report, :data:`REPORT_CREATED` is emitted
(payload ``account``, ``study``, ``report``, ``user``) after the commit;
``server/services/reports_dictation.py`` emits ``DICTATION_STORED`` alike.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from server.auth.passwords import verify_password
from server.auth.permissions import Action, Principal
from server.db.accounts import users
from server.db.engine import write_transaction
from server.db.models import series, studies
from server.db.reports import report_preferences, report_versions, reports
from server.db.visibility import visible_studies
from server.services.audit import AuditEvent
from server.services.events import REPORT_CREATED
from server.services.reports_keys import trusted_keys
from server.services.reports_runtime import ReportServices
from workbench.errors import ConflictError, NotFoundError, PermissionDeniedError
from workbench.reports.model import Content, Report, Subject, VersionState
from workbench.reports.serial import version_from_dict, version_to_dict
from workbench.reports.signing import Signer, Verification, sign_pending, verify_report
from workbench.reports.sources import (
    KEY_OBJECT_SELECTION,
    key_images_from_kos,
    measurements_from_sr,
)


@dataclass(frozen=True)
class Loaded:
    """A stored report with the keys routes need."""

    pk: int
    study_pk: int
    account_pk: int
    report: Report


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def sees_drafts(principal: Principal) -> bool:
    """Whether `principal` sees unsigned work (writers and transcriptionists)."""
    return bool(principal.allowed() & {Action.REPORT_WRITE, Action.REPORT_TRANSCRIBE})


def for_reader(report: Report, principal: Principal) -> Report | None:
    """The report as `principal` may see it: drafts left out for readers (None if that
    leaves nothing)."""
    if sees_drafts(principal):
        return report
    shown = tuple(v for v in report.versions if v.signed or v.state is VersionState.PRELIMINARY)
    if not shown:
        return None
    if report.signed:
        shown = tuple(v for v in shown if v.signed)
    return replace(report, versions=shown)


def visible_study(conn: Connection, principal: Principal, study_uid: str) -> Any:
    """The study row if `principal` sees it (else ``NotFoundError``)."""
    row = conn.execute(select(studies).where(studies.c.study_uid == study_uid,
                                             visible_studies(principal))).first()
    if row is None:
        raise NotFoundError(f"no study {study_uid} is stored")
    return row


def _load(conn: Connection, row: Any) -> Loaded:
    versions = conn.execute(select(report_versions).where(report_versions.c.report_pk == row.pk)
                            .order_by(report_versions.c.number)).fetchall()
    parsed = []
    for v in versions:
        parsed.append(version_from_dict({
            "number": v.number, "kind": v.kind, "state": v.state,
            "content": json.loads(v.content_json), "author": v.author, "saved_at": v.saved_at,
            "reason": v.reason, "signature": json.loads(v.signature_json)
            if v.signature_json else None}))
    report = Report(row.uid, Subject.from_dict(json.loads(row.subject_json)), tuple(parsed))
    return Loaded(int(row.pk), int(row.study_pk), int(row.account_pk), report)


def load_pk(conn: Connection, pk: int) -> Loaded:
    """The report with primary key `pk` (no visibility check: internal use)."""
    row = conn.execute(select(reports).where(reports.c.pk == pk)).first()
    if row is None:
        raise NotFoundError(f"no report {pk}")
    return _load(conn, row)


def find(conn: Connection, principal: Principal, uid: str, *, writing: bool = False) -> Loaded:
    """The report `uid` if `principal` sees its study (and, for readers, a version).

    Raises
    ------
    NotFoundError
        No such report, or its study is hidden from the caller.
    """
    row = conn.execute(select(reports).join(studies, studies.c.pk == reports.c.study_pk)
                       .where(reports.c.uid == uid, visible_studies(principal))).first()
    if row is None:
        raise NotFoundError(f"no report {uid}")
    loaded = _load(conn, row)
    if not writing and for_reader(loaded.report, principal) is None:
        raise NotFoundError(f"no report {uid}")
    return loaded


def study_reports(conn: Connection, principal: Principal, study_uid: str) -> list[Report]:
    """Reports of a visible study, as the caller may see them, oldest first."""
    study = visible_study(conn, principal, study_uid)
    rows = conn.execute(select(reports).where(reports.c.study_pk == study.pk)
                        .order_by(reports.c.pk)).fetchall()
    shown = (for_reader(_load(conn, r).report, principal) for r in rows)
    return [r for r in shown if r is not None]


def subject_of(conn: Connection, study: Any) -> Subject:
    """What a new report of `study` is about (its row's patient and study attributes)."""
    modalities = sorted({m for m in conn.execute(select(series.c.modality).where(
        series.c.study_pk == study.pk)).scalars() if m})
    return Subject(study.study_uid, study.patient_id, study.patient_name, study.issuer,
                   study.birth_date, study.sex, study.accession, study.study_date,
                   study.description, tuple(modalities), study.referring_physician)


def _user(conn: Connection, principal: Principal) -> Any:
    row = conn.execute(select(users).where(users.c.pk == principal.user_pk)).first()
    if row is None:
        raise PermissionDeniedError("only a member (not an upload key) works on reports")
    return row


def preferences(conn: Connection, user_pk: int) -> dict[str, str]:
    """A physician's template per modality."""
    return {r.modality: r.template for r in conn.execute(select(report_preferences).where(
        report_preferences.c.user_pk == user_pk))}


def _persist(conn: Connection, loaded: Loaded, after: Report, user_pk: int | None) -> Loaded:
    for version in after.versions[len(loaded.report.versions):]:
        data = version_to_dict(version)
        conn.execute(insert(report_versions).values(
            report_pk=loaded.pk, number=version.number, kind=data["kind"], state=data["state"],
            content_json=json.dumps(data["content"]), author=version.author,
            author_user_pk=user_pk, reason=version.reason, saved_at=version.saved_at,
            signature_json=None if data["signature"] is None else json.dumps(data["signature"])))
    conn.execute(update(reports).where(reports.c.pk == loaded.pk).values(
        status=after.status.value, template=after.in_force.content.template,
        updated_at=_now()))
    return replace(loaded, report=after)


def create(rs: ReportServices, principal: Principal, study_uid: str, template_id: str | None,
           values: Mapping[str, Any]) -> Loaded:
    """Start a report of a study: the named template, or the one the physician's
    preference and the study's modalities choose."""
    with write_transaction(rs.engine) as conn:
        study = visible_study(conn, principal, study_uid)
        user = _user(conn, principal)
        subject = subject_of(conn, study)
        template = rs.registry.get(template_id) if template_id else rs.registry.choose(
            subject.modalities, subject.study_description, preferences(conn, user.pk))
        if not template.selectable:
            raise ValueError(f"template {template.id!r} cannot start a report")
        report = Report.create(uuid.uuid4().hex, subject, Content.of(template, values),
                               user.name or user.email)
        first = conn.execute(select(reports.c.pk).where(reports.c.study_pk == study.pk)
                             .limit(1)).first() is None
        pk = conn.execute(insert(reports).values(
            uid=report.uid, study_pk=study.pk, account_pk=study.account_pk,
            template=template.id, status=report.status.value,
            subject_json=json.dumps(subject.to_dict()), created_by=user.pk,
            created_at=_now(), updated_at=_now())).inserted_primary_key
        empty = Loaded(int(pk[0]) if pk else 0, int(study.pk), int(study.account_pk),
                       replace(report, versions=()))
        loaded = _persist(conn, empty, report, user.pk)
        if first:
            rs.services.events.emit_with(conn, REPORT_CREATED, {
                "account": loaded.account_pk, "study": study_uid, "report": report.uid,
                "user": principal.user_pk})
    audit(rs, principal, "report.create", loaded, f"template {template.id}")
    return loaded


def change(rs: ReportServices, principal: Principal, uid: str,
           step: Callable[[Report, str], Report], *, expected: int | None = None) -> Loaded:
    """Apply a lifecycle step (``step(report, author)``) and store what it added.

    `expected` is the newest version number the caller edited (409 when another save
    came first).
    """
    with write_transaction(rs.engine) as conn:
        loaded = find(conn, principal, uid, writing=True)
        if expected is not None and loaded.report.latest.number != expected:
            raise ConflictError(f"the report changed meanwhile (version "
                                f"{loaded.report.latest.number}, not {expected}); reload it")
        user = _user(conn, principal)
        return _persist(conn, loaded, step(loaded.report, user.name or user.email), user.pk)


def sign(rs: ReportServices, principal: Principal, uid: str, password: str | None) -> Loaded:
    """Sign the open version with the physician's key (password asked again when set)."""
    with write_transaction(rs.engine) as conn:
        loaded = find(conn, principal, uid, writing=True)
        user = _user(conn, principal)
        if rs.settings.report_sign_password and user.password_hash and not (
                password and verify_password(user.password_hash, password)):
            raise PermissionDeniedError("signing needs your password: it was missing or wrong")
        if not user.npi:
            raise ValueError("your NPI is not on file: an administrator records it on your "
                             "member profile before you sign")
        key, _ = rs.keys.active(conn, user.pk)
        pending = loaded.report.pending
        template = None if pending is None else rs.registry.get(
            pending.content.template, pending.content.template_version)
        after = sign_pending(loaded.report, Signer(user.name or user.email, user.npi), key,
                             template=template)
        loaded = _persist(conn, loaded, after, user.pk)
    audit(rs, principal, "report.sign", loaded, f"version {after.latest.number}")
    return loaded


def verify(conn: Connection, loaded: Loaded) -> Verification:
    """Verify every signature against the registered keys and their owners."""
    report = loaded.report
    key_ids = {v.signature.key_id for v in report.signed if v.signature is not None}
    trusted = trusted_keys(conn, key_ids)
    result = verify_report(report, {k: raw for k, (raw, _) in trusted.items()})
    signers = {int(n): u for n, u in conn.execute(
        select(report_versions.c.number, report_versions.c.author_user_pk)
        .where(report_versions.c.report_pk == loaded.pk)).all()}
    problems = {n: list(p) for n, p in result.problems.items()}
    for version in report.signed:
        assert version.signature is not None
        owner = trusted.get(version.signature.key_id)
        if owner is not None and owner[1] != signers.get(version.number):
            problems.setdefault(version.number, []).append(
                "the key belongs to another user than the one who signed")
    return Verification(result.signed_versions, problems)


def audit(rs: ReportServices, principal: Principal, action: str, loaded: Loaded,
          detail: str = "") -> None:
    """Record a report event in the audit trail (written before returning)."""
    rs.services.audit.record(AuditEvent(
        action=action, actor=principal.label, outcome="ok",
        resource=f"report {loaded.report.uid}", study_uid=loaded.report.subject.study_uid,
        actor_user_pk=principal.user_pk, actor_account_pk=principal.account_pk,
        account_pk=loaded.account_pk, detail=detail), wait=True)


def report_sources(rs: ReportServices, study_uid: str) -> dict[str, list[dict[str, Any]]]:
    """Measurements (SR TID 1500) and key images (KOS) stored in a study, as field values."""
    from server.services import retrieve

    measurements: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    with rs.engine.connect() as conn:
        refs = retrieve.find_instances(conn, study_uid)
    for ref in refs:
        if not ref.sop_class_uid.startswith("1.2.840.10008.5.1.4.1.1.88."):
            continue
        ds = retrieve.read_dataset(rs.services.store, ref)
        if ref.sop_class_uid == KEY_OBJECT_SELECTION:
            images += [k.field_value() for k in key_images_from_kos(ds)]
            continue
        try:
            measurements += [m.field_value() for m in measurements_from_sr(ds)]
        except ValueError:  # an SR that is not a measurement report
            continue
    return {"measurements": measurements, "key_images": images}
