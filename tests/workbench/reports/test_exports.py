"""Exports: PDF text, Encapsulated PDF and SR re-read, FHIR validated against the R4 model."""

from __future__ import annotations

import base64
import io
from dataclasses import replace

import highdicom as hd
import pypdf
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fhir.resources.R4B.diagnosticreport import DiagnosticReport

from tests.synth import from_bytes, make_ct, to_bytes
from tests.workbench.reports.conftest import MPI_VALUES, SIGNER, SUBJECT, T0, signed_report
from workbench.imaging.render import thumbnail
from workbench.reports import Content, Report, TemplateRegistry
from workbench.reports.dicom_export import ENCAPSULATED_PDF, encapsulated_pdf, report_sr
from workbench.reports.fhir import diagnostic_report
from workbench.reports.pdf import KeyImage, Letterhead, report_pdf
from workbench.reports.signing import sign_pending

CT = make_ct(n=2, seed=11, rows=32, columns=32)
FHIR_STATUSES = {"registered", "partial", "preliminary", "final", "amended", "corrected",
                 "appended", "cancelled", "entered-in-error", "unknown"}
"""The DiagnosticReport status value set (FHIR R4), which the model classes do not check."""
LETTER = Letterhead("Riverside Cardiology", ("12 River Road", "Springfield"))


def _with_key_image(registry: TemplateRegistry, key: Ed25519PrivateKey) -> Report:
    image = {"sop_instance_uid": str(CT[1].SOPInstanceUID),
             "sop_class_uid": str(CT[1].SOPClassUID),
             "series_uid": str(CT[1].SeriesInstanceUID), "caption": "Inferior wall defect"}
    template = registry.get("nuclear-cardiology-mpi")
    content = Content.of(template, {**MPI_VALUES, "key_images": [image]})
    return sign_pending(Report.create("b" * 32, SUBJECT, content, "Dr Alice", T0), SIGNER, key,
                        template=template)


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_pdf_has_letterhead_patient_findings_impression_signature(
        registry: TemplateRegistry, key: tuple[Ed25519PrivateKey, str, bytes]) -> None:
    report = signed_report(registry, key[0])
    pdf = report_pdf(report, registry, letterhead=LETTER,
                     key_images=[KeyImage(thumbnail(CT[0], size=64), "Key slice")])
    text = " ".join(_text(pdf).split())
    for expected in ("Riverside Cardiology", "12 River Road", "Doe, Jane", "P-0001",
                     "1960-01-02", "ACC42", "Myocardial perfusion imaging report",
                     "SSS 11", "SDS 9", "Moderate reversible inferior ischaemia",
                     "LV ejection fraction (post-stress): 58 %", "Rest activity: 370 MBq",
                     "Key images", "Key slice", "Electronically signed by Dr Alice Reader",
                     "NPI 1234567893", "Addendum (version", "Prior study from 2024 reviewed"):
        assert expected in text, expected
    assert "DRAFT" not in text
    draft = Report.create("c" * 32, SUBJECT, report.versions[0].content, "Dr Alice", T0)
    assert "DRAFT - NOT SIGNED" in _text(report_pdf(draft, registry, letterhead=LETTER))


def test_encapsulated_pdf_round_trip(registry: TemplateRegistry,
                                     key: tuple[Ed25519PrivateKey, str, bytes]) -> None:
    pdf = report_pdf(signed_report(registry, key[0]), registry, letterhead=LETTER)
    ds = from_bytes(to_bytes(encapsulated_pdf(pdf, CT[0], title="MPI report",
                                              concept=registry.get("free-text").code,
                                              signed_at=T0)))
    assert ds.SOPClassUID == ENCAPSULATED_PDF and ds.Modality == "DOC"
    assert ds.StudyInstanceUID == CT[0].StudyInstanceUID and ds.PatientID == CT[0].PatientID
    assert ds.MIMETypeOfEncapsulatedDocument == "application/pdf"
    assert ds.EncapsulatedDocument[: ds.EncapsulatedDocumentLength] == pdf
    assert (ds.ContentDate, ds.ContentTime) == ("20260105", "100000.000000")


def test_sr_is_read_back_by_highdicom(registry: TemplateRegistry,
                                      key: tuple[Ed25519PrivateKey, str, bytes]) -> None:
    report = _with_key_image(registry, key[0])
    sr = report_sr(report, registry, CT[0], images={str(CT[1].SOPInstanceUID): CT[1]},
                   organization=LETTER.name)
    again = hd.sr.srread(io.BytesIO(to_bytes(sr)))
    assert isinstance(again, hd.sr.ComprehensiveSR)
    assert (again.VerificationFlag, again.CompletionFlag) == ("VERIFIED", "COMPLETE")
    assert str(again.VerifyingObserverSequence[0].VerifyingObserverName) == "Dr^Alice Reader"
    signature = report.in_force.signature
    assert signature is not None
    assert again.VerifyingObserverSequence[0].VerificationDateTime == \
        signature.signed_at.rstrip("Z").replace("-", "").replace(":", "").replace("T", "")
    items = {}
    for section in again.ContentSequence:
        for item in section.get("ContentSequence", []):
            items[item.ConceptNameCodeSequence[0].CodeMeaning] = item
    lvef = items["Left ventricular Ejection fraction"]
    assert lvef.ValueType == "NUM"
    assert float(lvef.MeasuredValueSequence[0].NumericValue) == 58
    assert lvef.MeasuredValueSequence[0].MeasurementUnitsCodeSequence[0].CodeValue == "%"
    assert float(items["Summed stress score"].MeasuredValueSequence[0].NumericValue) == 11
    assert items["Ischaemia"].ConceptCodeSequence[0].CodeValue == "6736007"
    assert items["Key image"].ReferencedSOPSequence[0].ReferencedSOPInstanceUID == \
        CT[1].SOPInstanceUID
    assert "Moderate reversible" in items["Impression"].TextValue
    unsigned = Report.create("d" * 32, SUBJECT, report.versions[0].content, "Dr^Bob", T0)
    with pytest.raises(ValueError, match="No evidence"):
        report_sr(unsigned, registry, CT[0])  # the key image's header is needed
    draft = report_sr(unsigned, registry, CT[0], images={str(CT[1].SOPInstanceUID): CT[1]})
    assert draft.VerificationFlag == "UNVERIFIED"


def test_fhir_diagnostic_report_validates(registry: TemplateRegistry,
                                          key: tuple[Ed25519PrivateKey, str, bytes]) -> None:
    report = signed_report(registry, key[0])
    pdf = report_pdf(report, registry, letterhead=LETTER)
    data = diagnostic_report(report, registry, pdf=pdf)
    parsed = DiagnosticReport.model_validate(data)
    assert parsed.status == "appended"
    assert data["category"][0]["coding"][0]["code"] == "NMS"
    assert data["issued"].endswith("Z") and data["effectiveDateTime"] == "2026-01-05"
    assert "Prior study from 2024 reviewed" in data["conclusion"]
    practitioner = next(r for r in data["contained"] if r["resourceType"] == "Practitioner")
    assert practitioner["identifier"][0] == {"system": "http://hl7.org/fhir/sid/us-npi",
                                             "value": "1234567893"}
    lvef = next(r for r in data["contained"] if r["resourceType"] == "Observation"
                and r["code"].get("coding", [{}])[0].get("code") == "10230-1")
    assert lvef["valueQuantity"]["code"] == "%" and lvef["valueQuantity"]["value"] == 58
    assert base64.b64decode(data["presentedForm"][0]["data"]) == pdf
    draft = diagnostic_report(replace(report, versions=report.versions[:1]), registry)
    assert DiagnosticReport.model_validate(draft).status == "partial"
    assert parsed.status in FHIR_STATUSES
    for broken in ({k: v for k, v in data.items() if k != "status"},
                   {**data, "issued": data["issued"].rstrip("Z")},
                   {**data, "subject": {"reference": 5}}):
        with pytest.raises(ValueError):
            DiagnosticReport.model_validate(broken)
