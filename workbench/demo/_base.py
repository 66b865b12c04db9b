"""Shared DICOM building blocks of the synthetic generators (internal).

Everything here is deterministic: UIDs are hashes of their context, dates and
times come from parameters, never from the clock.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypedDict

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from workbench.demo.patients import DemoPatient

IMPLEMENTATION_CLASS_UID = generate_uid(entropy_srcs=["workbench|implementation-class|1"])
IMPLEMENTATION_VERSION_NAME = "WORKBENCH_DEMO"
MANUFACTURER = "WORKBENCH"
INSTITUTION = "WORKBENCH DEMO HOSPITAL"


def make_uid(*parts: object) -> UID:
    """Return a UID that is a hash of `parts` (same parts, same UID).

    Parameters
    ----------
    *parts
        Anything with a stable ``str``; joined with ``|`` so that
        ``("1", "23")`` and ``("12", "3")`` differ.

    Returns
    -------
    UID
        A UID under the pydicom root, at most 64 characters.
    """
    return generate_uid(entropy_srcs=["workbench-demo|" + "|".join(str(p) for p in parts)])


def ds_str(value: float) -> str:
    """Format a number as a valid DS string (at most 16 characters).

    Parameters
    ----------
    value
        The number.

    Returns
    -------
    str
        The shortest of a few ``g`` formats that fits.
    """
    for digits in (10, 8, 6, 4):
        text = f"{value:.{digits}g}"
        if len(text) <= 16:
            return "0" if text == "-0" else text
    raise ValueError(f"cannot format {value!r} as DS")


def ds_list(values: Sequence[float]) -> list[str]:
    """Format several numbers as DS strings (see :func:`ds_str`)."""
    return [ds_str(v) for v in values]


def shift_date(yyyymmdd: str, days: int) -> str:
    """Return the DA `days` after `yyyymmdd` (negative: before)."""
    parsed = datetime.strptime(yyyymmdd, "%Y%m%d").date()
    return (parsed + timedelta(days=days)).strftime("%Y%m%d")


def add_seconds(hhmmss: str, seconds: float) -> str:
    """Return the TM `seconds` after `hhmmss` (negative: before), clamped to that day."""
    base = datetime.strptime(hhmmss[:6], "%H%M%S")
    later = base + timedelta(seconds=seconds)
    if later.date() > base.date():
        return "235959"
    if later.date() < base.date():
        return "000000"
    return later.strftime("%H%M%S")


def age_string(birth_date: str, on_date: str) -> str:
    """Return Patient's Age (AS, e.g. ``"061Y"``) at `on_date`."""
    born = datetime.strptime(birth_date, "%Y%m%d").date()
    when = datetime.strptime(on_date, "%Y%m%d").date()
    years = when.year - born.year - ((when.month, when.day) < (born.month, born.day))
    return f"{max(0, min(years, 999)):03d}Y"


def check_date(value: str, keyword: str = "StudyDate") -> str:
    """Validate a DA parameter (``YYYYMMDD``) and return it."""
    try:
        if len(value) != 8 or not value.isdigit():
            raise ValueError(value)
        datetime.strptime(value, "%Y%m%d")
    except ValueError as exc:
        raise ValueError(f"{keyword} must be YYYYMMDD, got {value!r}") from exc
    return value


class StudyKwargs(TypedDict):
    """The study keyword arguments shared by every generator."""

    study_uid: str
    study_date: str
    study_time: str
    accession: str
    study_description: str
    referring_physician: str


@dataclass(frozen=True)
class StudyInfo:
    """The General Study attributes shared by every series of a study."""

    uid: str
    date: str
    time: str
    accession: str
    description: str
    referring_physician: str = ""


@dataclass(frozen=True)
class SeriesInfo:
    """The General Series and equipment attributes of one series."""

    uid: str
    number: int
    modality: str
    description: str
    time: str
    body_part: str
    model: str
    station: str


def study_info(
    patient: DemoPatient,
    *,
    seed: int,
    study_uid: str | None,
    study_date: str,
    study_time: str,
    accession: str,
    study_description: str,
    referring_physician: str = "",
) -> StudyInfo:
    """Return the study context; the UID is derived when not given."""
    check_date(study_date)
    uid = study_uid or make_uid(
        "study", seed, patient.issuer, patient.patient_id, study_date, study_time, accession
    )
    return StudyInfo(uid, study_date, study_time, accession, study_description, referring_physician)


def series_info(
    study: StudyInfo,
    *,
    seed: int,
    modality: str,
    number: int,
    description: str,
    body_part: str,
    model: str,
) -> SeriesInfo:
    """Return the series context; its time is a few minutes after the study time."""
    uid = make_uid("series", seed, study.uid, modality, number, description)
    time = add_seconds(study.time, 120 * max(number - 1, 0) + 60)
    return SeriesInfo(uid, number, modality, description, time, body_part, model, f"WB{modality}01")


def base_dataset(
    sop_class_uid: str,
    patient: DemoPatient,
    study: StudyInfo,
    series: SeriesInfo,
) -> Dataset:
    """Return a dataset with the Patient, General Study, General Series, General Equipment
    and SOP Common attributes (no SOP Instance UID, no file meta yet).
    """
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.InstanceCreationDate = study.date
    ds.InstanceCreationTime = series.time
    ds.SOPClassUID = UID(sop_class_uid)
    ds.StudyDate = study.date
    ds.SeriesDate = study.date
    ds.StudyTime = study.time
    ds.SeriesTime = series.time
    ds.AccessionNumber = study.accession
    ds.Modality = series.modality
    ds.Manufacturer = MANUFACTURER
    ds.InstitutionName = INSTITUTION
    ds.ReferringPhysicianName = study.referring_physician
    ds.StationName = series.station
    if study.description:
        ds.StudyDescription = study.description
    ds.SeriesDescription = series.description
    ds.ManufacturerModelName = series.model
    ds.PatientName = patient.name
    ds.PatientID = patient.patient_id
    ds.IssuerOfPatientID = patient.issuer
    ds.PatientBirthDate = patient.birth_date
    ds.PatientSex = patient.sex
    ds.PatientAge = age_string(patient.birth_date, study.date)
    if series.body_part:
        ds.BodyPartExamined = series.body_part
    ds.DeviceSerialNumber = f"{series.modality}-0001"
    ds.SoftwareVersions = "workbench-demo 1"
    ds.StudyInstanceUID = UID(study.uid)
    ds.SeriesInstanceUID = UID(series.uid)
    ds.StudyID = (study.accession or "1")[-16:]
    ds.SeriesNumber = series.number
    return ds


def finish(ds: Dataset, sop_instance_uid: str) -> Dataset:
    """Set the SOP Instance UID and a complete file meta (Explicit VR Little Endian)."""
    ds.SOPInstanceUID = UID(sop_instance_uid)
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


def pixel_module(
    ds: Dataset,
    *,
    rows: int,
    columns: int,
    bits_allocated: int,
    bits_stored: int,
    signed: bool = False,
    photometric: str = "MONOCHROME2",
) -> None:
    """Set the Image Pixel module attributes except Pixel Data."""
    samples = 3 if photometric == "RGB" else 1
    ds.SamplesPerPixel = samples
    ds.PhotometricInterpretation = photometric
    if samples > 1:
        ds.PlanarConfiguration = 0
    ds.Rows = rows
    ds.Columns = columns
    ds.BitsAllocated = bits_allocated
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0


def check_size(name: str, value: int, low: int = 1, high: int = 65535) -> int:
    """Raise ValueError unless ``low <= value <= high``; return `value`."""
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")
    return value


class Template:
    """A dataset frozen as a pickle; :meth:`new` returns independent copies fast.

    Unpickling is several times faster than ``copy.deepcopy`` of a Dataset, which matters
    when a thousand slices share seventy attributes.

    Parameters
    ----------
    ds
        The attributes common to every instance of a series.
    """

    def __init__(self, ds: Dataset) -> None:
        self._blob = pickle.dumps(ds, protocol=pickle.HIGHEST_PROTOCOL)

    def new(self) -> Dataset:
        """Return a fresh deep copy of the template."""
        ds = pickle.loads(self._blob)
        assert isinstance(ds, Dataset)
        return ds
