"""Report lifecycle: draft -> preliminary -> final, addenda and amendments, nothing lost."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.workbench.reports.conftest import SIGNER, SUBJECT, T0, free_text
from workbench.errors import ConflictError
from workbench.reports import Content, Report, ReportStatus, TemplateRegistry, VersionKind
from workbench.reports.serial import report_from_dict, report_to_dict
from workbench.reports.signing import sign_pending


def _draft(registry: TemplateRegistry) -> Report:
    return Report.create("r" * 32, SUBJECT, free_text(registry, "first"), "Dr A", T0)


def test_draft_preliminary_final_keeps_every_version(
        registry: TemplateRegistry, key: tuple[Ed25519PrivateKey, str, bytes]) -> None:
    report = _draft(registry)
    assert report.status is ReportStatus.DRAFT
    report = report.save(free_text(registry, "second"), "Dr A")
    report = report.mark_preliminary("Dr A")
    assert report.status is ReportStatus.PRELIMINARY
    report = report.save(free_text(registry, "third"), "Dr A")
    assert report.status is ReportStatus.PRELIMINARY  # edits keep it preliminary
    with pytest.raises(ConflictError, match="preliminary already"):
        report.mark_preliminary("Dr A")
    final = sign_pending(report, SIGNER, key[0], template=registry.get("free-text"))
    assert final.status is ReportStatus.FINAL
    assert [v.number for v in final.versions] == [1, 2, 3, 4, 5]
    assert [v.content.values["findings"] for v in final.versions] == [
        "first", "second", "second", "third", "third"]
    assert final.versions[:4] == report.versions  # earlier versions untouched
    assert final.signed == (final.versions[-1],)
    assert report_from_dict(report_to_dict(final)) == final


def test_signed_text_is_never_edited(registry: TemplateRegistry,
                                     key: tuple[Ed25519PrivateKey, str, bytes]) -> None:
    final = sign_pending(_draft(registry), SIGNER, key[0])
    with pytest.raises(ConflictError, match="addendum or an amendment"):
        final.save(free_text(registry, "changed"), "Dr A")
    with pytest.raises(ConflictError):
        final.mark_preliminary("Dr A")
    with pytest.raises(ConflictError, match="nothing to sign"):
        sign_pending(final, SIGNER, key[0])


def test_addendum_and_amendment(registry: TemplateRegistry,
                                key: tuple[Ed25519PrivateKey, str, bytes]) -> None:
    with pytest.raises(ConflictError, match="needs a signed report"):
        _draft(registry).add_addendum(
            Content.of(registry.get("addendum"), {"text": "x"}), "Dr A")
    final = sign_pending(_draft(registry), SIGNER, key[0])
    original = final.in_force
    appended = final.add_addendum(Content.of(registry.get("addendum"), {"text": "late"}), "Dr A")
    assert appended.status is ReportStatus.FINAL  # an unsigned addendum changes nothing yet
    with pytest.raises(ConflictError, match="open already"):
        appended.amend(free_text(registry, "new"), "Dr A", "wrong side")
    with pytest.raises(ValueError, match="text only"):
        appended.save(free_text(registry, "x"), "Dr A")
    appended = sign_pending(appended, SIGNER, key[0])
    assert appended.status is ReportStatus.APPENDED
    assert appended.in_force == original and len(appended.addenda) == 1
    with pytest.raises(ValueError, match="needs a reason"):
        appended.amend(free_text(registry, "new"), "Dr A", "  ")
    with pytest.raises(ValueError, match="use an addendum"):
        appended.amend(Content.of(registry.get("addendum"), {"text": "x"}), "Dr A", "why")
    amended = sign_pending(appended.amend(free_text(registry, "left, not right"), "Dr A",
                                          "laterality corrected"), SIGNER, key[0])
    assert amended.status is ReportStatus.AMENDED
    assert amended.in_force.kind is VersionKind.AMENDMENT
    assert amended.in_force.content.values["findings"] == "left, not right"
    assert original in amended.versions  # the signed original is still there
    chain = [v.signature for v in amended.signed]
    assert all(s is not None for s in chain)
    assert chain[1].previous_hash == chain[0].version_hash  # type: ignore[union-attr]
    assert chain[2].previous_hash == chain[1].version_hash  # type: ignore[union-attr]


def test_signing_needs_required_fields_and_a_signer(
        registry: TemplateRegistry, key: tuple[Ed25519PrivateKey, str, bytes]) -> None:
    template = registry.get("free-text")
    report = Report.create("r" * 32, SUBJECT, Content.of(template, {"findings": "x"}), "A", T0)
    with pytest.raises(ValueError, match="Impression"):
        sign_pending(report, SIGNER, key[0], template=template)
    with pytest.raises(ValueError, match="name and NPI"):
        sign_pending(report, type(SIGNER)("Dr A", ""), key[0])
