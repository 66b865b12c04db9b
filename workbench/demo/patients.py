"""Synthetic patients for the demo archive, fixtures and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.demo._seed import seeded_rng

__all__ = ["DEMO_PATIENTS", "DemoPatient", "synthetic_patient"]


@dataclass(frozen=True)
class DemoPatient:
    """Patient demographics written into every dataset of a synthetic patient.

    Parameters
    ----------
    patient_id
        Patient ID (LO, at most 64 characters).
    name
        Patient's Name in DICOM PN form, e.g. ``"DOE^JANE"``.
    birth_date
        Patient's Birth Date as ``YYYYMMDD``.
    sex
        Patient's Sex: ``"F"``, ``"M"`` or ``"O"``.
    issuer
        Issuer of Patient ID.
    """

    patient_id: str
    name: str
    birth_date: str
    sex: str
    issuer: str = "WORKBENCH-DEMO"

    def __post_init__(self) -> None:
        if not self.patient_id or len(self.patient_id) > 64:
            raise ValueError("PatientID must have 1 to 64 characters")
        if len(self.birth_date) != 8 or not self.birth_date.isdigit():
            raise ValueError("PatientBirthDate must be YYYYMMDD")
        if self.sex not in ("F", "M", "O"):
            raise ValueError("PatientSex must be F, M or O")


DEMO_PATIENTS: tuple[DemoPatient, DemoPatient] = (
    DemoPatient(patient_id="WB-0001", name="DOE^JANE", birth_date="19640312", sex="F"),
    DemoPatient(patient_id="WB-0002", name="ROE^RICHARD^A", birth_date="19570827", sex="M"),
)
"""The two patients of :func:`workbench.demo.demo_datasets`."""

_FAMILY = (
    "ADAMS",
    "BAKER",
    "CLARK",
    "DAVIS",
    "EVANS",
    "FISHER",
    "GARCIA",
    "HUGHES",
    "IBARRA",
    "JONES",
    "KIM",
    "LOPEZ",
    "MARTIN",
    "NGUYEN",
    "OKAFOR",
    "PATEL",
    "QUINN",
    "ROSSI",
    "SILVA",
    "TANAKA",
    "URBAN",
    "VOGEL",
    "WEBER",
    "XU",
    "YILMAZ",
    "ZIMMER",
)
_GIVEN_F = ("ALICE", "BEATRIZ", "CHLOE", "DANA", "EMMA", "FATIMA", "GRETA", "HANA", "INES")
_GIVEN_M = ("AARON", "BRUNO", "CARLOS", "DAVID", "ERIK", "FELIX", "GEORGE", "HENRY", "IVAN")


def synthetic_patient(seed: int, index: int, *, prefix: str = "SYN") -> DemoPatient:
    """Return a deterministic made-up patient.

    Parameters
    ----------
    seed
        Seed of the generator; together with `index` it fixes every field.
    index
        Running number of the patient; part of the Patient ID.
    prefix
        Start of the Patient ID.

    Returns
    -------
    DemoPatient
        A patient with ID ``f"{prefix}{seed}-{index:05d}"``.
    """
    if index < 0:
        raise ValueError(f"index must not be negative, got {index}")
    rng = seeded_rng(seed, 7, index)
    sex = "F" if rng.random() < 0.5 else "M"
    given = _GIVEN_F if sex == "F" else _GIVEN_M
    family = _FAMILY[int(rng.integers(len(_FAMILY)))]
    first = given[int(rng.integers(len(given)))]
    year = 1940 + int(rng.integers(0, 60))
    month = 1 + int(rng.integers(0, 12))
    day = 1 + int(rng.integers(0, 28))
    return DemoPatient(
        patient_id=f"{prefix}{seed}-{index:05d}",
        name=f"{family}^{first}",
        birth_date=f"{year:04d}{month:02d}{day:02d}",
        sex=sex,
    )
