"""The report as a FHIR R4 DiagnosticReport resource (JSON).

The resource contains the Patient (identifier, name, birth date, gender), the
interpreting Practitioner (NPI under ``http://hl7.org/fhir/sid/us-npi``) and one
Observation per number, linked measurement and summed perfusion score; it references
the imaging study by its DICOM Study Instance UID, carries the impression as
``conclusion`` (with the coded impression choices as ``conclusionCode``) and the PDF as
``presentedForm``. Statuses: draft -> ``partial``, then ``preliminary``, ``final``,
``appended``, ``amended``.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from workbench.reports.model import Report, ReportStatus
from workbench.reports.registry import TemplateRegistry
from workbench.reports.render import section_text
from workbench.reports.templates import Code, TemplateField

__all__ = ["SYSTEMS", "diagnostic_report"]

SYSTEMS = {"LN": "http://loinc.org", "SCT": "http://snomed.info/sct",
           "DCM": "http://dicom.nema.org/resources/ontology/DCM",
           "UCUM": "http://unitsofmeasure.org", "99WB": "urn:workbench:codes"}
NPI = "http://hl7.org/fhir/sid/us-npi"
_STATUS = {ReportStatus.DRAFT: "partial", ReportStatus.PRELIMINARY: "preliminary",
           ReportStatus.FINAL: "final", ReportStatus.APPENDED: "appended",
           ReportStatus.AMENDED: "amended"}
_CATEGORY = {"US": ("CUS", "Cardiac Ultrasound"), "NM": ("NMS", "Nuclear Medicine Scan"),
             "PT": ("NMS", "Nuclear Medicine Scan")}
_SEX = {"M": "male", "F": "female", "O": "other"}


def _coding(code: Code) -> dict[str, str]:
    return {"system": SYSTEMS.get(code.scheme, f"urn:dicom:scheme:{code.scheme}"),
            "code": code.value, "display": code.meaning}


def _date(value: str) -> str | None:
    return f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value) == 8 and value.isdigit() \
        else None


def _name(value: str) -> dict[str, Any]:
    parts = value.split("=")[0].split("^")
    name: dict[str, Any] = {"text": " ".join(p for p in (*parts[1:3], parts[0]) if p)}
    if parts[0]:
        name["family"] = parts[0]
    given = [p for p in parts[1:3] if p]
    if given:
        name["given"] = given
    return name


def _observation(index: int, field: TemplateField, value: Any) -> dict[str, Any] | None:
    code: dict[str, Any] = {"coding": [_coding(field.code)]} if field.code else {}
    code["text"] = field.label
    quantity: dict[str, Any] | None = None
    if field.type in ("number", "measurement"):
        unit = value["unit"]
        quantity = {"value": value["value"], "unit": field.unit_display or unit,
                    "system": SYSTEMS["UCUM"], "code": unit}
    elif field.type == "segment_scores":
        quantity = {"value": value["sss"], "unit": "score", "system": SYSTEMS["UCUM"],
                    "code": "{score}"}
        code["text"] = "Summed stress score"
    if quantity is None:
        return None
    obs: dict[str, Any] = {"resourceType": "Observation", "id": f"obs-{index}",
                           "status": "final", "code": code,
                           "subject": {"reference": "#patient"}, "valueQuantity": quantity}
    if field.type == "segment_scores" and value.get("sds") is not None:
        obs["component"] = [
            {"code": {"text": text}, "valueQuantity": {
                "value": value[key], "unit": "score", "system": SYSTEMS["UCUM"],
                "code": "{score}"}}
            for key, text in (("srs", "Summed rest score"), ("sds", "Summed difference score"))]
    return obs


def diagnostic_report(report: Report, registry: TemplateRegistry, *,
                      pdf: bytes | None = None) -> dict[str, Any]:
    """Return the FHIR R4 DiagnosticReport of `report` as JSON-ready data.

    Parameters
    ----------
    report
        The report; the version in force is described, with signed addenda appended to
        the conclusion.
    registry
        The templates.
    pdf
        The rendered PDF, attached as ``presentedForm`` when given.
    """
    shown = report.in_force
    template = registry.get(shown.content.template, shown.content.template_version)
    s = report.subject
    patient: dict[str, Any] = {"resourceType": "Patient", "id": "patient",
                               "identifier": [{"value": s.patient_id or "unknown"}]}
    if s.issuer:
        patient["identifier"][0]["assigner"] = {"display": s.issuer}
    if s.patient_name:
        patient["name"] = [_name(s.patient_name)]
    if _date(s.birth_date):
        patient["birthDate"] = _date(s.birth_date)
    patient["gender"] = _SEX.get(s.sex.upper(), "unknown")
    contained: list[dict[str, Any]] = [patient]
    resource: dict[str, Any] = {
        "resourceType": "DiagnosticReport", "id": report.uid,
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{report.uid}"}],
        "status": _STATUS[report.status],
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                                  "code": "RAD", "display": "Radiology"}]}],
        "code": {"coding": [_coding(template.code)], "text": template.title},
        "subject": {"reference": "#patient"},
    }
    for modality in s.modalities:
        if modality in _CATEGORY and template.id != "general-radiology":
            code, display = _CATEGORY[modality]
            resource["category"][0]["coding"][0].update(code=code, display=display)
            break
    if _date(s.study_date):
        resource["effectiveDateTime"] = _date(s.study_date)
    signature = shown.signature
    resource["issued"] = (signature.signed_at if signature else shown.saved_at)
    if signature is not None:
        contained.append({"resourceType": "Practitioner", "id": "interpreter",
                          "identifier": [{"system": NPI, "value": signature.signer_npi}],
                          "name": [{"text": signature.signer_name}]})
        resource["resultsInterpreter"] = [{"reference": "#interpreter",
                                           "display": signature.signer_name}]
    results = []
    for index, (fid, field) in enumerate(template.fields.items(), start=1):
        if fid in shown.content.values:
            obs = _observation(index, field, shown.content.values[fid])
            if obs is not None:
                contained.append(obs)
                results.append({"reference": f"#{obs['id']}", "display": field.label})
    if results:
        resource["result"] = results
    resource["imagingStudy"] = [{"identifier": {"system": "urn:dicom:uid",
                                                "value": f"urn:oid:{s.study_uid}"},
                                 "display": s.study_description or "Imaging study"}]
    conclusion = section_text(shown.content, template, ("impression",))
    for addendum in report.addenda:
        conclusion += f"\n\nAddendum: {addendum.content.values.get('text', '')}"
    if conclusion.strip():
        resource["conclusion"] = conclusion.strip()
    codes = [_coding(Code(**pick)) for f in template.fields.values()
             if f.type == "choice" and f.id in shown.content.values and any(
                 f in sec.fields and sec.kind == "impression" for sec in template.sections)
             for pick in (shown.content.values[f.id] if f.multiple
                          else [shown.content.values[f.id]])]
    if codes:
        resource["conclusionCode"] = [{"coding": [c]} for c in codes]
    if pdf is not None:
        resource["presentedForm"] = [{
            "contentType": "application/pdf", "data": base64.b64encode(pdf).decode("ascii"),
            "hash": base64.b64encode(hashlib.sha1(pdf).digest()).decode("ascii"),  # noqa: S324
            "title": template.title, "creation": resource["issued"]}]
    resource["contained"] = contained
    return resource
