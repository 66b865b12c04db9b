"""The modules every synthetic instance shares (internal).

Patient, General Study, General Series, General Equipment and SOP Common are filled
in by :func:`new_series`; :func:`finish` adds the instance number, the SOP Instance UID
and the file meta. Values depend only on the arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from workbench.demo._base import add_seconds, age_string, check_date, make_uid
from workbench.demo.patients import DemoPatient

IMPLEMENTATION_CLASS_UID = generate_uid(entropy_srcs=["workbench|implementation-class|1"])
IMPLEMENTATION_VERSION_NAME = "WORKBENCH_DEMO"
MANUFACTURER = "WORKBENCH"
INSTITUTION = "WORKBENCH DEMO HOSPITAL"


class StudyKwargs(TypedDict):
    """The study keyword arguments shared by every public generator."""

    study_uid: str
    study_date: str
    study_time: str
    accession: str
    study_description: str
    referring_physician: str


@dataclass(frozen=True)
class Study:
    """The study keyword arguments of a generator, in :class:`StudyKwargs` order."""

    uid: str | None
    date: str
    time: str
    accession: str
    description: str
    referring_physician: str


@dataclass(frozen=True)
class SeriesKind:
    """What one generator makes: its SOP class, modality and device model."""

    sop_class_uid: str
    modality: str
    model: str


def new_series(
    kind: SeriesKind,
    patient: DemoPatient,
    seed: int,
    study: Study,
    number: int,
    description: str,
    body_part: str,
) -> Dataset:
    """Return a dataset with the modules shared by every instance of a series.

    The Study Instance UID, when not given, is a hash of seed, patient, date, time and
    accession; the series UID hashes seed, study, modality, number and description; the
    series starts a few minutes after the study. No SOP Instance UID, no file meta yet.
    """
    check_date(study.date)
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = UID(kind.sop_class_uid)
    _patient(ds, patient, study.date)
    _general_study(ds, study, patient, seed)
    _general_series(ds, kind.modality, seed, number, description, body_part)
    _general_equipment(ds, kind)
    ds.InstanceCreationDate = ds.StudyDate
    ds.InstanceCreationTime = ds.SeriesTime
    return ds


def _patient(ds: Dataset, patient: DemoPatient, on_date: str) -> None:
    ds.PatientName = patient.name
    ds.PatientID = patient.patient_id
    ds.IssuerOfPatientID = patient.issuer
    ds.PatientBirthDate = patient.birth_date
    ds.PatientSex = patient.sex
    ds.PatientAge = age_string(patient.birth_date, on_date)


def _general_study(ds: Dataset, study: Study, patient: DemoPatient, seed: int) -> None:
    derived = (seed, patient.issuer, patient.patient_id, study.date, study.time, study.accession)
    ds.StudyInstanceUID = UID(study.uid or make_uid("study", *derived))
    ds.StudyDate = study.date
    ds.StudyTime = study.time
    ds.AccessionNumber = study.accession
    ds.ReferringPhysicianName = study.referring_physician
    ds.StudyID = (study.accession or "1")[-16:]
    if study.description:
        ds.StudyDescription = study.description


def _general_series(
    ds: Dataset, modality: str, seed: int, number: int, description: str, body_part: str
) -> None:
    ds.SeriesInstanceUID = make_uid(
        "series", seed, ds.StudyInstanceUID, modality, number, description
    )
    ds.SeriesNumber = number
    ds.Modality = modality
    ds.SeriesDescription = description
    ds.SeriesDate = ds.StudyDate
    ds.SeriesTime = add_seconds(ds.StudyTime, 120 * max(number - 1, 0) + 60)
    if body_part:
        ds.BodyPartExamined = body_part


def _general_equipment(ds: Dataset, kind: SeriesKind) -> None:
    ds.Manufacturer = MANUFACTURER
    ds.InstitutionName = INSTITUTION
    ds.StationName = f"WB{kind.modality}01"
    ds.ManufacturerModelName = kind.model
    ds.DeviceSerialNumber = f"{kind.modality}-0001"
    ds.SoftwareVersions = "workbench-demo 1"


def finish(ds: Dataset, number: int) -> Dataset:
    """Number the instance, give it a SOP Instance UID (a hash of series and number) and
    a complete file meta (Explicit VR Little Endian).
    """
    ds.InstanceNumber = number
    ds.SOPInstanceUID = make_uid("sop", ds.SeriesInstanceUID, number)
    meta = FileMetaDataset()
    meta.FileMetaInformationVersion = b"\x00\x01"
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    ds.file_meta = meta
    return ds


def code_item(value: str, scheme: str, meaning: str, version: str | None = None) -> Dataset:
    """Return a Code Sequence item (Basic Code Sequence Macro)."""
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    if version:
        item.CodingSchemeVersion = version
    item.CodeMeaning = meaning
    return item
