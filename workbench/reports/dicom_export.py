"""The report as DICOM: an Encapsulated PDF and a Comprehensive SR (highdicom).

Both copy the patient and study attributes from a header of the reported study, so the
archive files them into that study. The SR follows the shape of TID 2000 (Basic
Diagnostic Imaging Report): the template's code as the document title, the signer as
person observer, one CONTAINER per section (DCM History, Current Procedure
Descriptions, Findings, Impressions; ``99WB`` codes for other sections), and in it TEXT,
NUM (UCUM units), CODE and IMAGE items; the 17-segment grid as NUM items with SSS, SRS
and SDS. A signed report is a *verified*, *final*, *complete* document whose verifying
observer is the signer, at the signature's time. Signed addenda follow in containers
of their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import highdicom as hd
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.sr.coding import Code
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from workbench.measure.units import ucum
from workbench.reports.model import Report, Version, utc_now
from workbench.reports.registry import TemplateRegistry
from workbench.reports.render import rendered_sections
from workbench.reports.scores import SEGMENTS
from workbench.reports.templates import Code as TemplateCode
from workbench.reports.templates import TemplateField

__all__ = ["ENCAPSULATED_PDF", "encapsulated_pdf", "report_sr"]

ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
LOCAL = "99WB"
_SECTIONS = {"clinical": Code("121060", "DCM", "History"),
             "technique": Code("121064", "DCM", "Current Procedure Descriptions"),
             "findings": Code("121070", "DCM", "Findings"),
             "impression": Code("121072", "DCM", "Impressions")}
_PATIENT_STUDY = ("PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate",
                  "PatientSex", "StudyInstanceUID", "StudyDate", "StudyTime",
                  "ReferringPhysicianName", "StudyID", "AccessionNumber", "StudyDescription")


def _code(code: TemplateCode) -> Code:
    return Code(code.value, code.scheme, code.meaning)


def _local(value: str, meaning: str) -> Code:
    return Code(value[:16], LOCAL, meaning[:64])


def _dicom_datetime(iso: str) -> tuple[str, str]:
    """``2026-01-02T03:04:05.123456Z`` -> (``20260102``, ``030405.123456``)."""
    date, _, time = iso.rstrip("Z").partition("T")
    return date.replace("-", ""), time.replace(":", "")


def encapsulated_pdf(pdf: bytes, study: Dataset, *, title: str,
                     concept: TemplateCode | None = None, signed_at: str | None = None,
                     series_uid: str | None = None, sop_uid: str | None = None,
                     series_number: int = 9902, instance_number: int = 1,
                     manufacturer: str = "workbench") -> Dataset:
    """An Encapsulated PDF instance (PS3.3 A.45.1) of the study of `study`.

    Parameters
    ----------
    pdf
        The PDF bytes.
    study
        Any header of the study: patient and study attributes are copied from it.
    title
        Document Title (0042,0010).
    concept
        Concept Name Code Sequence (the report type), empty when None.
    signed_at
        Content date and time (UTC ISO 8601); now when None.
    """
    ds = Dataset()
    for keyword in _PATIENT_STUDY:
        ds.__setattr__(keyword, study.get(keyword, ""))
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = ENCAPSULATED_PDF
    ds.SOPInstanceUID = sop_uid or generate_uid()
    ds.Modality = "DOC"
    ds.SeriesInstanceUID = series_uid or generate_uid()
    ds.SeriesNumber = series_number
    ds.SeriesDescription = "Report"
    ds.Manufacturer = manufacturer
    ds.ConversionType = "WSD"
    ds.InstanceNumber = instance_number
    date, time = _dicom_datetime(signed_at or utc_now())
    ds.ContentDate, ds.ContentTime = date, time
    ds.AcquisitionDateTime = date + time
    ds.BurnedInAnnotation = "YES"
    ds.DocumentTitle = title[:64]
    ds.ConceptNameCodeSequence = []
    if concept is not None:
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator = concept.value, concept.scheme
        item.CodeMeaning = concept.meaning
        ds.ConceptNameCodeSequence = [item]
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocument = pdf + (b"\0" if len(pdf) % 2 else b"")
    ds.EncapsulatedDocumentLength = len(pdf)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    return ds


def _unit(field: TemplateField, ucum: str) -> Code:
    return Code(ucum, "UCUM", field.unit_display or ucum or "no units")


def _items(field: TemplateField, value: Any) -> list[Dataset]:
    name = _code(field.code) if field.code else _local(field.id, field.label)
    contains = hd.sr.RelationshipTypeValues.CONTAINS
    if field.type == "text":
        return [hd.sr.TextContentItem(name, str(value), relationship_type=contains)]
    if field.type == "number":
        return [hd.sr.NumContentItem(name, float(value["value"]), _unit(field, field.unit or "1"),
                                     relationship_type=contains)]
    if field.type == "choice":
        picks = value if isinstance(value, list) else [value]
        return [hd.sr.CodeContentItem(name, Code(p["value"], p["scheme"], p["meaning"]),
                                      relationship_type=contains) for p in picks]
    if field.type == "measurement":
        code, meaning = ucum(value["unit"])
        num = hd.sr.NumContentItem(name, float(value["value"]), Code(code, "UCUM", meaning),
                                   relationship_type=contains)
        num.ContentSequence = DicomSequence([hd.sr.UIDRefContentItem(
            Code("112040", "DCM", "Tracking Unique Identifier"), value["tracking_uid"],
            relationship_type=hd.sr.RelationshipTypeValues.HAS_PROPERTIES)])
        return [num]
    if field.type == "key_images":
        return [hd.sr.ImageContentItem(
            _local("key-image", "Key image"), ref["sop_class_uid"], ref["sop_instance_uid"],
            referenced_frame_numbers=ref.get("frame"), relationship_type=contains)
            for ref in value]
    if field.type == "segment_scores":
        score = Code("{score}", "UCUM", "score")
        items: list[Dataset] = [hd.sr.NumContentItem(_local(key, meaning), float(value[key]), score,
                                      relationship_type=contains)
                 for key, meaning in (("sss", "Summed stress score"),
                                      ("srs", "Summed rest score"),
                                      ("sds", "Summed difference score"))
                 if value.get(key) is not None]
        for phase in ("stress", "rest"):
            for number, name_ in enumerate(value.get(phase) or [], start=1):
                items.append(hd.sr.NumContentItem(
                    _local(f"{phase}-seg-{number}", f"{phase} score, segment {number} "
                           f"({SEGMENTS[number - 1]})"), float(name_), score,
                    relationship_type=contains))
        return items
    raise ValueError(f"unknown field type {field.type!r}")


def _sections(version: Version, registry: TemplateRegistry) -> list[Dataset]:
    template = registry.get(version.content.template, version.content.template_version)
    out: list[Dataset] = []
    for section, spec in zip(rendered_sections(version.content, template),
                             [s for s in template.sections
                              if any(f.id in version.content.values for f in s.fields)],
                             strict=True):
        container = hd.sr.ContainerContentItem(
            _SECTIONS.get(section.kind) or _local(spec.id, spec.title),
            relationship_type=hd.sr.RelationshipTypeValues.CONTAINS)
        container.ContentSequence = DicomSequence([item for line in section.lines
                                                   for item in _items(line.field, line.value)])
        out.append(container)
    return out


def report_sr(report: Report, registry: TemplateRegistry, study: Dataset, *,
              images: Mapping[str, Dataset] | None = None,
              previous_versions: Sequence[Dataset] = (), organization: str = "",
              series_uid: str | None = None, sop_uid: str | None = None,
              series_number: int = 9903, instance_number: int = 1,
              manufacturer: str = "workbench") -> hd.sr.ComprehensiveSR:
    """A Comprehensive SR of the version in force (and the signed addenda).

    Parameters
    ----------
    report
        The report; when it is signed, the SR is verified by the signer.
    study
        A header of the reported study (patient and study attributes, evidence).
    images
        Headers of the key images by SOP Instance UID (recorded as evidence).
    previous_versions
        Earlier SR documents of this report (Predecessor Documents Sequence).
    organization
        Verifying organisation (the practice).
    """
    shown = report.in_force
    template = registry.get(shown.content.template, shown.content.template_version)
    root = hd.sr.ContainerContentItem(_code(template.code), template_id="2000")
    observer = shown.signature.signer_name if shown.signature else shown.author
    content: list[Dataset] = [hd.sr.PnameContentItem(Code("121008", "DCM", "Person Observer Name"),
                                      observer.replace(" ", "^", 1) if "^" not in observer
                                      else observer,
                                      relationship_type=hd.sr.RelationshipTypeValues
                                      .HAS_OBS_CONTEXT)]
    content += _sections(shown, registry)
    for addendum in report.addenda:
        container = hd.sr.ContainerContentItem(
            _local("addendum", f"Addendum (version {addendum.number})"),
            relationship_type=hd.sr.RelationshipTypeValues.CONTAINS)
        container.ContentSequence = DicomSequence(_sections(addendum, registry))
        content.append(container)
    root.ContentSequence = DicomSequence(content)
    evidence = [study, *(images or {}).values()]
    signature = shown.signature
    sr = hd.sr.ComprehensiveSR(
        evidence=evidence, content=root, series_instance_uid=series_uid or hd.UID(),
        series_number=series_number, sop_instance_uid=sop_uid or hd.UID(),
        instance_number=instance_number, manufacturer=manufacturer,
        is_complete=signature is not None, is_final=signature is not None,
        is_verified=signature is not None,
        verifying_observer_name=signature.signer_name.replace(" ", "^", 1)
        if signature else None,
        verifying_organization=organization or "unknown" if signature else None,
        previous_versions=list(previous_versions) or None)
    if signature is not None:
        date, time = _dicom_datetime(signature.signed_at)
        sr.VerifyingObserverSequence[0].VerificationDateTime = date + time
    sr.SeriesDescription = "Report"
    return sr
