"""The archive index: patients, studies, series, instances.

Study rows carry the patient attributes as received with that study (what QIDO-RS
returns); the ``patients`` row holds the demographics first seen for a patient ID and
issuer, and ``patient_conflicts`` records every later disagreement instead of merging.
Every patient folder and study belongs to one account (``server/db/accounts.py``); the
same Patient ID in two accounts is two folders.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base


class Patient(Base):
    """A patient folder: one patient ID within one issuer, in one account."""

    __tablename__ = "patients"
    __table_args__ = (UniqueConstraint("account_pk", "patient_id", "issuer"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.pk"), index=True)
    patient_id: Mapped[str] = mapped_column(String(64))
    issuer: Mapped[str] = mapped_column(String(64), default="")
    name: Mapped[str] = mapped_column(String(324), default="")
    birth_date: Mapped[str] = mapped_column(String(8), default="")
    sex: Mapped[str] = mapped_column(String(16), default="")
    created_at: Mapped[datetime]


class PatientConflict(Base):
    """A study whose patient demographics disagree with its patient folder."""

    __tablename__ = "patient_conflicts"
    __table_args__ = (UniqueConstraint("patient_pk", "study_uid", "attribute"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_pk: Mapped[int] = mapped_column(ForeignKey("patients.pk", ondelete="CASCADE"))
    study_uid: Mapped[str] = mapped_column(String(64))
    attribute: Mapped[str] = mapped_column(String(64))
    expected: Mapped[str] = mapped_column(String(324))
    received: Mapped[str] = mapped_column(String(324))
    created_at: Mapped[datetime]


class Study(Base):
    """One study, with the study-level attributes QIDO-RS matches and returns."""

    __tablename__ = "studies"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_uid: Mapped[str] = mapped_column(String(64), unique=True)
    account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.pk"), index=True)
    patient_pk: Mapped[int] = mapped_column(ForeignKey("patients.pk"), index=True)
    patient_name: Mapped[str] = mapped_column(String(324), default="", index=True)
    patient_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    issuer: Mapped[str] = mapped_column(String(64), default="")
    birth_date: Mapped[str] = mapped_column(String(8), default="")
    sex: Mapped[str] = mapped_column(String(16), default="")
    study_date: Mapped[str] = mapped_column(String(8), default="", index=True)
    study_time: Mapped[str] = mapped_column(String(16), default="")
    accession: Mapped[str] = mapped_column(String(16), default="", index=True)
    study_id: Mapped[str] = mapped_column(String(16), default="")
    description: Mapped[str] = mapped_column(String(64), default="")
    referring_physician: Mapped[str] = mapped_column(String(324), default="")
    charset: Mapped[str] = mapped_column(String(128), default="")
    timezone_offset: Mapped[str] = mapped_column(String(16), default="")
    num_series: Mapped[int] = mapped_column(Integer, default=0)
    num_instances: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Series(Base):
    """One series of a study."""

    __tablename__ = "series"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    series_uid: Mapped[str] = mapped_column(String(64), unique=True)
    study_pk: Mapped[int] = mapped_column(ForeignKey("studies.pk", ondelete="CASCADE"), index=True)
    modality: Mapped[str] = mapped_column(String(16), default="", index=True)
    series_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    description: Mapped[str] = mapped_column(String(64), default="")
    body_part: Mapped[str] = mapped_column(String(16), default="")
    pps_start_date: Mapped[str] = mapped_column(String(8), default="")
    pps_start_time: Mapped[str] = mapped_column(String(16), default="")
    num_instances: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]


class Instance(Base):
    """One stored SOP instance: where its blob is and its pre-built DICOM JSON."""

    __tablename__ = "instances"
    __table_args__ = (Index("ix_instances_series_number", "series_pk", "instance_number"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    sop_uid: Mapped[str] = mapped_column(String(64), unique=True)
    series_pk: Mapped[int] = mapped_column(ForeignKey("series.pk", ondelete="CASCADE"))
    study_pk: Mapped[int] = mapped_column(ForeignKey("studies.pk", ondelete="CASCADE"), index=True)
    sop_class_uid: Mapped[str] = mapped_column(String(64), default="", index=True)
    instance_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    transfer_syntax: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int | None] = mapped_column(Integer, nullable=True)
    columns: Mapped[int | None] = mapped_column(Integer, nullable=True)
    bits_allocated: Mapped[int | None] = mapped_column(Integer, nullable=True)
    frames: Mapped[int | None] = mapped_column(Integer, nullable=True)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    blob: Mapped[str] = mapped_column(String(512))
    pixel_offset: Mapped[int | None] = mapped_column(Integer, nullable=True)
    metadata_json: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


patients = cast(Table, Patient.__table__)
patient_conflicts = cast(Table, PatientConflict.__table__)
studies = cast(Table, Study.__table__)
series = cast(Table, Series.__table__)
instances = cast(Table, Instance.__table__)
