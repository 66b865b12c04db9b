"""Reports and their versions: draft -> preliminary -> final, then addenda and amendments.

A :class:`Report` is a value: every operation returns a new report with one more
:class:`Version` and never changes or drops an existing one, so every saved state is
kept. Rules:

- While nothing is signed, the report is a *draft*; :meth:`Report.save` stores edited
  content, :meth:`Report.mark_preliminary` makes it *preliminary* (a read that may be
  shown but is not signed); a preliminary report cannot go back to draft.
- Signing (``workbench.reports.signing.sign_pending``) appends a signed copy of the
  pending version; the original becomes *final*.
- After that, changes are an *addendum* (text appended, signed on its own) or an
  *amendment* (a full replacement of the content, with a reason). Either starts as an
  unsigned version that can be saved until signed; the signed text before it stays.
- Only one unsigned version is open at a time.

Times are UTC, ISO 8601 with a ``Z``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from workbench.errors import ConflictError
from workbench.reports.canonical import sha256_hex

if TYPE_CHECKING:
    from workbench.reports.signing import Signature
    from workbench.reports.templates import Template

__all__ = ["Content", "Report", "ReportStatus", "Subject", "Version", "VersionKind",
           "VersionState", "utc_now"]


class ReportStatus(StrEnum):
    """Where a report stands (FHIR DiagnosticReport status names where they exist)."""

    DRAFT = "draft"
    PRELIMINARY = "preliminary"
    FINAL = "final"
    APPENDED = "appended"
    AMENDED = "amended"


class VersionKind(StrEnum):
    """What a version is: the original report, an addendum, or an amendment."""

    ORIGINAL = "original"
    ADDENDUM = "addendum"
    AMENDMENT = "amendment"


class VersionState(StrEnum):
    """The state of one version; ``final`` versions carry a signature."""

    DRAFT = "draft"
    PRELIMINARY = "preliminary"
    FINAL = "final"


def utc_now() -> str:
    """The current UTC time as ISO 8601 with microseconds and ``Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Subject:
    """Who and what the report is about, as known when the report was started."""

    study_uid: str
    patient_id: str = ""
    patient_name: str = ""
    issuer: str = ""
    birth_date: str = ""
    sex: str = ""
    accession: str = ""
    study_date: str = ""
    study_description: str = ""
    modalities: tuple[str, ...] = ()
    referring_physician: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON form (what is hashed and stored)."""
        return {"study_uid": self.study_uid, "patient_id": self.patient_id,
                "patient_name": self.patient_name, "issuer": self.issuer,
                "birth_date": self.birth_date, "sex": self.sex, "accession": self.accession,
                "study_date": self.study_date, "study_description": self.study_description,
                "modalities": list(self.modalities),
                "referring_physician": self.referring_physician}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Subject:
        """Inverse of :meth:`to_dict`."""
        return cls(**{**data, "modalities": tuple(data.get("modalities") or ())})


@dataclass(frozen=True)
class Content:
    """Field values in normal form, and the template (id and version) they follow."""

    template: str
    template_version: int
    values: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, template: Template, values: Mapping[str, Any]) -> Content:
        """Validate `values` against `template` (``ValueError`` naming the field)."""
        return cls(template.id, template.version, template.validate_values(values))

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"template": self.template, "template_version": self.template_version,
                "values": dict(self.values)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Content:
        """Inverse of :meth:`to_dict`."""
        return cls(str(data["template"]), int(data["template_version"]),
                   dict(data.get("values") or {}))


@dataclass(frozen=True)
class Version:
    """One saved state of a report; immutable once made."""

    number: int
    kind: VersionKind
    state: VersionState
    content: Content
    author: str
    saved_at: str
    reason: str = ""
    signature: Signature | None = None

    @property
    def signed(self) -> bool:
        """Whether this version carries a signature."""
        return self.signature is not None

    def document(self, report_uid: str, subject: Subject) -> dict[str, Any]:
        """What the content hash covers: report, subject, version and content."""
        return {"report": report_uid, "subject": subject.to_dict(), "version": self.number,
                "kind": self.kind.value, "reason": self.reason, "author": self.author,
                "content": self.content.to_dict()}


@dataclass(frozen=True)
class Report:
    """A report of one study: its identity, subject and every version, oldest first."""

    uid: str
    subject: Subject
    versions: tuple[Version, ...]

    @classmethod
    def create(cls, uid: str, subject: Subject, content: Content, author: str,
               now: str | None = None) -> Report:
        """A new draft report (version 1)."""
        first = Version(1, VersionKind.ORIGINAL, VersionState.DRAFT, content, author,
                        now or utc_now())
        return cls(uid, subject, (first,))

    @property
    def latest(self) -> Version:
        """The newest version."""
        return self.versions[-1]

    @property
    def signed(self) -> tuple[Version, ...]:
        """The signed versions, oldest first."""
        return tuple(v for v in self.versions if v.signed)

    @property
    def pending(self) -> Version | None:
        """The open unsigned version (draft, preliminary, addendum or amendment), if any."""
        return None if self.latest.signed else self.latest

    @property
    def status(self) -> ReportStatus:
        """Draft or preliminary until signed; then final, appended or amended."""
        signed = self.signed
        if not signed:
            return ReportStatus(self.latest.state.value)
        kinds = {v.kind for v in signed}
        if VersionKind.AMENDMENT in kinds:
            return ReportStatus.AMENDED
        if VersionKind.ADDENDUM in kinds:
            return ReportStatus.APPENDED
        return ReportStatus.FINAL

    @property
    def in_force(self) -> Version:
        """The content readers see: the last signed original or amendment (else the
        latest unsigned version)."""
        for version in reversed(self.signed):
            if version.kind is not VersionKind.ADDENDUM:
                return version
        return self.latest

    @property
    def addenda(self) -> tuple[Version, ...]:
        """The signed addenda, oldest first."""
        return tuple(v for v in self.signed if v.kind is VersionKind.ADDENDUM)

    def content_hash(self, version: Version) -> str:
        """SHA-256 of the canonical document of `version`."""
        return sha256_hex(version.document(self.uid, self.subject))

    def _append(self, version: Version) -> Report:
        return replace(self, versions=(*self.versions, version))

    def _open(self, action: str) -> Version:
        pending = self.pending
        if pending is None:
            raise ConflictError(f"cannot {action}: the report is signed; write an addendum "
                                "or an amendment")
        return pending

    def save(self, content: Content, author: str, now: str | None = None) -> Report:
        """Store edited content of the open version as a new version."""
        pending = self._open("edit it")
        if pending.kind is VersionKind.ADDENDUM and content.template != "addendum":
            raise ValueError("an addendum holds text only (template 'addendum')")
        return self._append(replace(pending, number=pending.number + 1, content=content,
                                    author=author, saved_at=now or utc_now()))

    def mark_preliminary(self, author: str, now: str | None = None) -> Report:
        """Make the open original version preliminary."""
        pending = self._open("make it preliminary")
        if pending.kind is not VersionKind.ORIGINAL:
            raise ConflictError("only the original report can be preliminary")
        if pending.state is VersionState.PRELIMINARY:
            raise ConflictError("the report is preliminary already")
        return self._append(replace(pending, number=pending.number + 1, author=author,
                                    state=VersionState.PRELIMINARY, saved_at=now or utc_now()))

    def _after_signing(self, kind: VersionKind, content: Content, author: str, reason: str,
                       now: str | None) -> Report:
        if not self.signed:
            raise ConflictError(f"an {kind.value} needs a signed report; edit the "
                                f"{self.status.value} report instead")
        if self.pending is not None:
            raise ConflictError(f"an unsigned {self.pending.kind.value} is open already; "
                                "sign or edit it")
        return self._append(Version(self.latest.number + 1, kind, VersionState.DRAFT,
                                    content, author, now or utc_now(), reason))

    def add_addendum(self, content: Content, author: str, reason: str = "",
                     now: str | None = None) -> Report:
        """Open an addendum (template ``addendum``) to a signed report."""
        if content.template != "addendum":
            raise ValueError("an addendum holds text only (template 'addendum')")
        return self._after_signing(VersionKind.ADDENDUM, content, author, reason, now)

    def amend(self, content: Content, author: str, reason: str,
              now: str | None = None) -> Report:
        """Open an amendment: replacement content for a signed report, with a reason."""
        if not reason.strip():
            raise ValueError("an amendment needs a reason")
        if content.template == "addendum":
            raise ValueError("an amendment replaces the whole report; use an addendum "
                             "to append text")
        return self._after_signing(VersionKind.AMENDMENT, content, author, reason, now)

    def with_signed(self, version: Version) -> Report:
        """Append the signed copy of the open version (used by the signing module)."""
        pending = self._open("sign it")
        if version.signature is None or version.number != pending.number + 1:
            raise ValueError("a signed version follows the open version and carries a "
                             "signature")
        return self._append(version)
