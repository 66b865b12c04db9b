"""Gated SPECT results as a DICOM SR TID 1500 Measurement Report (highdicom), and back.

TID 1500 fits: every result is a number with a unit about the left ventricle, and the
standard measurement groups (TID 1501) carry the patient state, the algorithm and the
finding sites that tell them apart. One Comprehensive SR holds:

* one group per set, tracking identifier ``workbench:spect-stress`` / ``-rest``, finding
  site Left ventricle, qualitative evaluation Patient State = Cardiac Stress State or
  Resting State (CID 3101), algorithm ``workbench Gated SPECT``: EDV and ESV (LOINC
  18026-5, 18148-7, mL), stroke volume (SCT 90096001, mL), LVEF (LOINC 10230-1, %),
  LV mass (g), summed score (SSS or SRS) and extent (SCT 427751006, %), and the 17
  segment scores (unit ``{score}``), each with its segment (CID 3717 Myocardial Wall
  Segments) as finding site;
* one study group ``workbench:spect-study``: TID (SCT 428832008, ``{ratio}``), SDS and
  ischaemic extent (SCT 429162008, %).

Concepts no standard scheme names (perfusion score, summed scores, LV mass by SPECT)
use the private scheme ``99WORKBENCH`` (PS3.16 8.2), as :mod:`workbench.measure` does.
Values are rounded as :func:`~workbench.spect.report.study_to_dict` rounds them (0.01,
TID 0.001), so the DS values are exact and read back equal. The evidence (the NM
images analysed, headers only) goes into the Current Requested Procedure Evidence and
the Image Library; patient and study attributes are copied from it.
:func:`read_spect_sr` reads such a document back; :func:`archive_evidence` and
:func:`store_spect_sr` fetch the evidence from and store the document into an archive
(any :class:`~workbench.dicomweb.client_base.ArchiveClient`, as its user).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import highdicom as hd
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import UID, Comprehensive3DSRStorage, ComprehensiveSRStorage, EnhancedSRStorage

from workbench.dicomweb.client_base import ArchiveClient
from workbench.spect.aha import SEGMENT_NAMES, SEGMENTS
from workbench.spect.analysis import LvAnalysis, StudyAnalysis
from workbench.spect.scores import PerfusionScores

__all__ = [
    "SCHEME", "TRACKING_PREFIX", "archive_evidence", "read_spect_sr", "spect_sr", "store_spect_sr",
]  # fmt: skip

SCHEME = "99WORKBENCH"
TRACKING_PREFIX = "workbench:spect-"
ALGORITHM = "workbench Gated SPECT"
ALGORITHM_VERSION = "1"

EDV = Code("18026-5", "LN", "Left Ventricular End Diastolic Volume")
ESV = Code("18148-7", "LN", "Left Ventricular End Systolic Volume")
SV = codes.SCT.StrokeVolume
LVEF = Code("10230-1", "LN", "Left ventricular Ejection fraction")
MASS = Code("LV-MASS-SPECT", SCHEME, "Left ventricular mass (gated SPECT)")
SUMMED = {"stress": Code("SSS", SCHEME, "Summed stress score"),
          "rest": Code("SRS", SCHEME, "Summed rest score")}  # fmt: skip
SDS = Code("SDS", SCHEME, "Summed difference score")
EXTENT = Code("427751006", "SCT", "Extent of cardiac perfusion defect")
ISCHEMIC_EXTENT = Code("429162008", "SCT", "Extent of myocardial stress ischemia")
TID = Code("428832008", "SCT", "Transient ischemic dilatation ratio of left ventricular cavity")
SEGMENT_SCORE = Code("PERFUSION-SCORE", SCHEME, "Segmental perfusion score")
STATES = {"stress": codes.SCT.CardiacStressState, "rest": codes.SCT.RestingState}

_UNITS = {"mL": Code("mL", "UCUM", "milliliter"), "%": Code("%", "UCUM", "percent"),
          "g": Code("g", "UCUM", "gram"), "{score}": Code("{score}", "UCUM", "score"),
          "{ratio}": Code("{ratio}", "UCUM", "ratio")}  # fmt: skip
_QUANTITIES = {"edv_ml": (EDV, "mL"), "esv_ml": (ESV, "mL"), "sv_ml": (SV, "mL"),
               "lvef_pct": (LVEF, "%"), "lv_mass_g": (MASS, "g"),
               "summed_score": (None, "{score}"), "extent_pct": (EXTENT, "%")}  # fmt: skip
"""Quantity of a set group (named as in :func:`~workbench.spect.report.study_to_dict`) ->
concept (None: :data:`SUMMED` of the state) and unit."""
_STUDY = {"tid": (TID, "{ratio}", 3), "sds": (SDS, "{score}", 0),
          "ischemic_extent_pct": (ISCHEMIC_EXTENT, "%", 2)}  # fmt: skip


def _segment_code(segment: int) -> Code:
    """The CID 3717 concept of AHA segment 1-17."""
    if segment == 17:
        apex: Code = codes.SCT.ApexOfLeftVentricle
        return apex
    words = "".join(w.capitalize() for w in SEGMENT_NAMES[segment].split())
    code: Code = getattr(codes.SCT, f"LeftVentricle{words}Segment")
    return code


_SEGMENT_CODES = {s: _segment_code(s) for s in SEGMENTS}


def _num(name: Code, value: float, unit: str, decimals: int = 2,
         site: Code | None = None) -> hd.sr.Measurement:  # fmt: skip
    return hd.sr.Measurement(
        name=name, value=round(float(value), decimals), unit=_UNITS[unit],
        finding_sites=None if site is None else [hd.sr.FindingSite(site)])  # fmt: skip


def _set_values(a: LvAnalysis, scores: PerfusionScores) -> dict[str, float]:
    values = {"lv_mass_g": a.mass_g, "summed_score": float(scores.summed_score),
              "extent_pct": scores.extent_pct}  # fmt: skip
    if a.curve is not None:
        values.update(edv_ml=a.curve.edv_ml, esv_ml=a.curve.esv_ml, sv_ml=a.curve.sv_ml,
                      lvef_pct=a.curve.ef_pct)  # fmt: skip
    return values


def _algorithm() -> hd.sr.AlgorithmIdentification:
    return hd.sr.AlgorithmIdentification(name=ALGORITHM, version=ALGORITHM_VERSION)


def _set_group(state: str, a: LvAnalysis, scores: PerfusionScores
               ) -> hd.sr.MeasurementsAndQualitativeEvaluations:  # fmt: skip
    nums = []
    for key, value in _set_values(a, scores).items():
        concept, unit = _QUANTITIES[key]
        nums.append(_num(concept or SUMMED[state], value, unit))
    nums += [_num(SEGMENT_SCORE, float(v), "{score}", 0, _SEGMENT_CODES[s])
             for s, v in zip(SEGMENTS, scores.scores, strict=True)]  # fmt: skip
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(),
                                                     identifier=TRACKING_PREFIX + state),
        algorithm_id=_algorithm(), finding_sites=[hd.sr.FindingSite(codes.SCT.LeftVentricle)],
        qualitative_evaluations=[hd.sr.QualitativeEvaluation(codes.DCM.PatientState,
                                                             STATES[state])],
        measurements=nums)  # fmt: skip


def _study_group(study: StudyAnalysis) -> hd.sr.MeasurementsAndQualitativeEvaluations | None:
    nums = [_num(concept, float(getattr(study, key)), unit, decimals)
            for key, (concept, unit, decimals) in _STUDY.items()
            if getattr(study, key) is not None]  # fmt: skip
    if not nums:
        return None
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(),
                                                     identifier=TRACKING_PREFIX + "study"),
        algorithm_id=_algorithm(), finding_sites=[hd.sr.FindingSite(codes.SCT.LeftVentricle)],
        measurements=nums)  # fmt: skip


def _header(ds: Dataset) -> Dataset:
    """`ds` without pixel data (the evidence needs headers only)."""
    header = Dataset()
    for element in ds:
        if element.tag.group != 0x7FE0:
            header.add(element)
    return header


def spect_sr(study: StudyAnalysis, evidence: Sequence[Dataset], *,
             observer_name: str | None = None, series_number: int = 9902,
             instance_number: int = 1, manufacturer: str = "workbench",
             series_description: str = "Gated SPECT results") -> hd.sr.ComprehensiveSR:  # fmt: skip
    """A TID 1500 Measurement Report of a Gated SPECT study (module docstring).

    Parameters
    ----------
    study
        The analysis (as shown, with the reader's corrections).
    evidence
        Headers of the NM images analysed (pixel data not needed, not copied), all of
        one study; the report's patient and study come from them.
    observer_name
        The reader (DICOM person name ``Family^Given``); None: the device observer.
    series_number, instance_number, manufacturer, series_description
        Of the new SR series and instance.

    Raises
    ------
    ValueError
        No evidence, evidence of several studies, or a study without any scored set.
    """
    if not evidence:
        raise ValueError("a Gated SPECT SR needs the NM images analysed as evidence")
    studies = {str(ds.get("StudyInstanceUID", "")) for ds in evidence}
    if len(studies) != 1:
        raise ValueError(f"the evidence spans {len(studies)} studies (StudyInstanceUID); "
                         "an SR belongs to one")  # fmt: skip
    groups: list[hd.sr.MeasurementsAndQualitativeEvaluations] = [
        _set_group(state, a, scores) for state, a, scores in (
            ("stress", study.stress, study.stress_scores), ("rest", study.rest, study.rest_scores))
        if a is not None and scores is not None]  # fmt: skip
    if not groups:
        raise ValueError("the analysis has no scored stress or rest set to export")
    extra = _study_group(study)
    if extra is not None:
        groups.append(extra)
    if observer_name:
        context = hd.sr.ObservationContext(observer_person_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
                name=observer_name)))  # fmt: skip
    else:
        context = hd.sr.ObservationContext(observer_device_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Device,
            observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
                uid=hd.UID(), name=manufacturer)))  # fmt: skip
    report = hd.sr.MeasurementReport(
        observation_context=context,
        procedure_reported=codes.SCT.RadionuclideMyocardialPerfusionStudy,
        imaging_measurements=groups)  # fmt: skip
    return hd.sr.ComprehensiveSR(
        evidence=[_header(ds) for ds in evidence], content=report[0],
        series_instance_uid=hd.UID(), series_number=series_number,
        sop_instance_uid=hd.UID(), instance_number=instance_number,
        manufacturer=manufacturer, is_complete=True,
        series_description=series_description)  # fmt: skip


_DOCUMENTS: dict[UID, Any] = {ComprehensiveSRStorage: hd.sr.ComprehensiveSR,
                              Comprehensive3DSRStorage: hd.sr.Comprehensive3DSR,
                              EnhancedSRStorage: hd.sr.EnhancedSR}  # fmt: skip
_MEASUREMENT_GROUP = hd.sr.CodedConcept("125007", "DCM", "Measurement Group")


def _groups(sr: Dataset) -> Iterator[hd.sr.MeasurementsAndQualitativeEvaluations]:
    document = _DOCUMENTS.get(UID(str(sr.get("SOPClassUID", ""))))
    if document is None:
        raise ValueError(f"SOPClassUID {sr.get('SOPClassUID')} is not an SR that holds TID 1500")
    content = document.from_dataset(sr).content
    if not isinstance(content, hd.sr.MeasurementReport):
        raise ValueError("the SR document is not a TID 1500 Measurement Report")
    for container in content[0].ContentSequence:
        for item in getattr(container, "ContentSequence", ()):
            if item.name == _MEASUREMENT_GROUP:
                yield hd.sr.MeasurementsAndQualitativeEvaluations.from_sequence([item])


def _key(concept: hd.sr.CodedConcept) -> tuple[str, str]:
    return concept.scheme_designator, concept.value


def read_spect_sr(sr: Dataset) -> dict[str, dict[str, Any]]:
    """The results of a :func:`spect_sr` document, keyed like
    :func:`~workbench.spect.report.study_to_dict`.

    Returns
    -------
    dict
        ``{"stress": {...}, "rest": {...}, "study": {...}}`` (groups present only): a set
        has ``edv_ml``, ``esv_ml``, ``sv_ml``, ``lvef_pct``, ``lv_mass_g``,
        ``summed_score``, ``extent_pct`` (those written) and ``segment_scores`` (17 ints,
        segment 1 first); the study ``tid``, ``sds``, ``ischemic_extent_pct``.

    Raises
    ------
    ValueError
        Not a TID 1500 report, or a ``workbench:spect-`` group that is malformed.
    """
    by_concept = {_key(hd.sr.CodedConcept(c.value, c.scheme_designator, c.meaning)): k
                  for k, (c, _u) in _QUANTITIES.items() if c is not None}  # fmt: skip
    by_concept.update({_key(hd.sr.CodedConcept(c.value, c.scheme_designator, c.meaning)): k
                       for k, (c, _u, _d) in _STUDY.items()})  # fmt: skip
    summed = {(SCHEME, c.value) for c in SUMMED.values()}
    segments = {_key(hd.sr.CodedConcept(c.value, c.scheme_designator, c.meaning)): s
                for s, c in _SEGMENT_CODES.items()}  # fmt: skip
    out: dict[str, dict[str, Any]] = {}
    for group in _groups(sr):
        name = group.tracking_identifier or ""
        if not name.startswith(TRACKING_PREFIX):
            continue
        values: dict[str, Any] = {}
        scores: dict[int, int] = {}
        for num in group.get_measurements():
            key, value = _key(num.name), float(num.value)
            if key == (SCHEME, SEGMENT_SCORE.value):
                sites = num.finding_sites
                site = _key(sites[0].value) if len(sites) == 1 else None
                if site not in segments:
                    raise ValueError(f"a segment score of group {name!r} names no AHA segment")
                scores[segments[site]] = int(round(value))
            elif key in summed:
                values["summed_score"] = int(round(value))
            elif key == (SCHEME, SDS.value):
                values["sds"] = int(round(value))
            elif key in by_concept:
                values[by_concept[key]] = value
        if scores:
            if sorted(scores) != list(SEGMENTS):
                raise ValueError(f"group {name!r} has scores of {len(scores)} segments, not 17")
            values["segment_scores"] = [scores[s] for s in SEGMENTS]
        out[name.removeprefix(TRACKING_PREFIX)] = values
    return out


def archive_evidence(client: ArchiveClient, study_uid: str,
                     series_uids: Sequence[str]) -> list[Dataset]:  # fmt: skip
    """Headers of the instances of `series_uids` (the NM sets analysed), from the
    archive's series metadata (WADO-RS, no pixel data fetched).

    Raises
    ------
    ValueError
        A series without instances (names it).
    """
    out: list[Dataset] = []
    for uid in series_uids:
        items = client.retrieve_series_metadata(study_uid, uid)
        if not items:
            raise ValueError(f"series {uid} of study {study_uid} has no instances")
        out += [Dataset.from_json(item, bulk_data_uri_handler=lambda *_: b"") for item in items]
    return out


def store_spect_sr(client: ArchiveClient, sr: Dataset) -> str:
    """Store `sr` into its study (STOW-RS to ``/studies/{uid}``) and return its SOP
    Instance UID.

    Raises
    ------
    ValueError
        The archive refused it (with its reasons).
    """
    study_uid = str(sr.StudyInstanceUID)
    result = client.store_instances([sr], study_uid=study_uid)
    if not result.ok:
        reasons = "; ".join(f"{text} (0x{code:04X})" for _uid, code, text in result.failed)
        raise ValueError(f"the archive refused the Gated SPECT SR: {reasons}")
    return str(sr.SOPInstanceUID)
