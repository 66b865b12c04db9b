"""Reports as JSON data: what the index stores per version and what exports carry.

:func:`report_from_dict` inverts :func:`report_to_dict` exactly, so a report written out
(with its signatures) can be verified elsewhere with the signers' public keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.reports.model import Content, Report, Subject, Version, VersionKind, VersionState
from workbench.reports.signing import Signature

__all__ = ["report_from_dict", "report_to_dict", "version_from_dict", "version_to_dict"]


def version_to_dict(version: Version) -> dict[str, Any]:
    """JSON form of one version."""
    return {"number": version.number, "kind": version.kind.value,
            "state": version.state.value, "content": version.content.to_dict(),
            "author": version.author, "saved_at": version.saved_at, "reason": version.reason,
            "signature": None if version.signature is None else version.signature.to_dict()}


def version_from_dict(data: Mapping[str, Any]) -> Version:
    """Inverse of :func:`version_to_dict`."""
    signature = data.get("signature")
    return Version(int(data["number"]), VersionKind(data["kind"]), VersionState(data["state"]),
                   Content.from_dict(data["content"]), str(data["author"]),
                   str(data["saved_at"]), str(data.get("reason") or ""),
                   None if signature is None else Signature.from_dict(signature))


def report_to_dict(report: Report) -> dict[str, Any]:
    """JSON form of a report with every version.

    Examples
    --------
    >>> from workbench.reports.model import Content, Report, Subject
    >>> r = Report.create("r1", Subject("1.2.3"), Content("free-text", 1, {"findings": "ok"}),
    ...                   "Dr A", now="2026-01-02T03:04:05.000000Z")
    >>> report_from_dict(report_to_dict(r)) == r
    True
    """
    return {"uid": report.uid, "status": report.status.value,
            "subject": report.subject.to_dict(),
            "versions": [version_to_dict(v) for v in report.versions]}


def report_from_dict(data: Mapping[str, Any]) -> Report:
    """Inverse of :func:`report_to_dict`."""
    return Report(str(data["uid"]), Subject.from_dict(data["subject"]),
                  tuple(version_from_dict(v) for v in data["versions"]))
