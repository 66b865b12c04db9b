"""Seeded synthetic DICOM factories for tests, built on :mod:`workbench.demo`.

Small sizes by default so that tests stay fast; every factory takes a ``seed`` and
returns byte-identical datasets for the same arguments. Usage::

    from tests.synth import make_ct, make_study, to_bytes

    slices = make_ct(n=4, seed=1)           # 4 CT slices of 64 x 64
    study = make_study(("CT", "ECG"), seed=2)
    payload = to_bytes(slices[0])           # a complete Part 10 file
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from io import BytesIO
from pathlib import Path
from typing import Any

from pydicom import dcmread, dcmwrite
from pydicom.dataset import Dataset

from workbench.demo import (
    DemoPatient,
    ct_series,
    ecg,
    mr_series,
    nm_study,
    synthetic_patient,
    us_cine,
    write_datasets,
    xa_cine,
)
from workbench.demo._base import make_uid

__all__ = [
    "PATIENT",
    "from_bytes",
    "make_ct",
    "make_ecg",
    "make_mr",
    "make_nm",
    "make_patient",
    "make_study",
    "make_us",
    "make_xa",
    "to_bytes",
    "write_files",
]

PATIENT = DemoPatient(
    patient_id="SYNTH-0001",
    name="TEST^PATIENT",
    birth_date="19700101",
    sex="O",
    issuer="WORKBENCH-TEST",
)
"""The default patient of every factory."""

MODALITIES = ("CT", "MR", "US", "XA", "NM", "ECG")


def make_patient(index: int = 0, *, seed: int = 1) -> DemoPatient:
    """Return a made-up patient, distinct for each ``(seed, index)``."""
    return synthetic_patient(seed, index, prefix="T")


def make_ct(
    n: int = 4,
    seed: int = 1,
    rows: int = 64,
    columns: int = 64,
    *,
    patient: DemoPatient | None = None,
    **kwargs: Any,
) -> list[Dataset]:
    """Return `n` CT slices (see :func:`workbench.demo.ct_series` for `kwargs`)."""
    return ct_series(
        patient or PATIENT, seed=seed, n_slices=n, rows=rows, columns=columns, **kwargs
    )


def make_mr(
    n: int = 3,
    seed: int = 1,
    rows: int = 32,
    columns: int = 32,
    *,
    patient: DemoPatient | None = None,
    **kwargs: Any,
) -> list[Dataset]:
    """Return `n` MR slices (see :func:`workbench.demo.mr_series`)."""
    return mr_series(
        patient or PATIENT, seed=seed, n_slices=n, rows=rows, columns=columns, **kwargs
    )


def make_us(
    n_frames: int = 3,
    seed: int = 1,
    rows: int = 48,
    columns: int = 64,
    *,
    patient: DemoPatient | None = None,
    **kwargs: Any,
) -> Dataset:
    """Return a small RGB ultrasound cine (see :func:`workbench.demo.us_cine`)."""
    return us_cine(
        patient or PATIENT, seed=seed, n_frames=n_frames, rows=rows, columns=columns, **kwargs
    )


def make_xa(
    n_frames: int = 3,
    seed: int = 1,
    rows: int = 64,
    columns: int = 64,
    *,
    patient: DemoPatient | None = None,
    **kwargs: Any,
) -> Dataset:
    """Return a small angiography cine (see :func:`workbench.demo.xa_cine`)."""
    return xa_cine(
        patient or PATIENT, seed=seed, n_frames=n_frames, rows=rows, columns=columns, **kwargs
    )


def make_nm(
    seed: int = 1,
    matrix: int = 16,
    n_slices: int = 8,
    *,
    patient: DemoPatient | None = None,
    **kwargs: Any,
) -> list[Dataset]:
    """Return ``[stress, rest]`` small NM RECON TOMO volumes (see
    :func:`workbench.demo.nm_study`).
    """
    return nm_study(
        patient or PATIENT,
        seed=seed,
        matrix=matrix,
        n_slices=n_slices,
        pixel_spacing=kwargs.pop("pixel_spacing", 19.2),
        **kwargs,
    )


def make_ecg(
    seed: int = 1,
    seconds: float = 2.0,
    *,
    patient: DemoPatient | None = None,
    **kwargs: Any,
) -> Dataset:
    """Return a short 12-lead ECG (see :func:`workbench.demo.ecg`)."""
    return ecg(patient or PATIENT, seed=seed, seconds=seconds, **kwargs)


def make_study(
    modalities: Sequence[str] = ("CT",),
    seed: int = 1,
    *,
    patient: DemoPatient | None = None,
    study_date: str = "20260101",
    study_time: str = "090000",
    accession: str = "ACC0001",
    study_description: str = "SYNTHETIC STUDY",
    study_uid: str | None = None,
) -> list[Dataset]:
    """Return the instances of one study with one small series per modality.

    Parameters
    ----------
    modalities
        Any of ``CT``, ``MR``, ``US``, ``XA``, ``NM`` (two series: stress, rest),
        ``ECG``; repeats give further series.
    seed
        Fixes UIDs and pixels.
    patient
        Defaults to :data:`PATIENT`.
    study_date, study_time, accession, study_description, study_uid
        General Study attributes; the UID is derived from the rest when None.

    Returns
    -------
    list of Dataset
        All instances, series numbered 1, 2, ... in the order given.
    """
    who = patient or PATIENT
    uid = study_uid or str(make_uid("synth-study", seed, who.patient_id, study_date, accession))
    study: dict[str, Any] = {
        "study_uid": uid,
        "study_date": study_date,
        "study_time": study_time,
        "accession": accession,
        "study_description": study_description,
        "patient": who,
    }
    out: list[Dataset] = []
    number = 1
    for k, modality in enumerate(modalities):
        s = seed * 1000 + k
        match modality.upper():
            case "CT":
                out += make_ct(seed=s, series_number=number, **study)
            case "MR":
                out += make_mr(seed=s, series_number=number, **study)
            case "US":
                out.append(make_us(seed=s, series_number=number, **study))
            case "XA":
                out.append(make_xa(seed=s, series_number=number, **study))
            case "NM":
                out += make_nm(seed=s, series_number=number, **study)
                number += 1
            case "ECG":
                out.append(make_ecg(seed=s, series_number=number, **study))
            case other:
                raise ValueError(f"unknown modality {other!r}; use one of {MODALITIES}")
        number += 1
    return out


def to_bytes(ds: Dataset) -> bytes:
    """Return `ds` encoded as a DICOM Part 10 file (preamble, file meta, dataset)."""
    buffer = BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def from_bytes(data: bytes) -> Dataset:
    """Parse a DICOM Part 10 file from bytes."""
    return dcmread(BytesIO(data))


def write_files(datasets: Iterable[Dataset], folder: Path) -> list[Path]:
    """Write datasets as ``folder/<study>/<series>/<sop>.dcm`` and return the paths."""
    return write_datasets(datasets, folder)
