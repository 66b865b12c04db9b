"""Non-DICOM files of a study or a patient folder (referrals, scans, photos, audio, video)."""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import ForeignKey, Integer, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base


class Media(Base):
    """One uploaded file; its bytes are a blob in the media store.

    ``study_pk`` is set for files of a study (the patient folder is the study's then);
    files of the folder alone have only ``patient_pk``. ``sop_uid`` names the DICOM
    object it was also stored as (Encapsulated PDF, Secondary Capture), if any.
    """

    __tablename__ = "media"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.pk"), index=True)
    patient_pk: Mapped[int] = mapped_column(ForeignKey("patients.pk"), index=True)
    study_pk: Mapped[int | None] = mapped_column(
        ForeignKey("studies.pk", ondelete="CASCADE"), nullable=True, index=True)
    upload_type: Mapped[str] = mapped_column(String(32))
    media_type: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    blob: Mapped[str] = mapped_column(String(512))
    sop_uid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    uploaded_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    uploader: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[datetime]


media = cast(Table, Media.__table__)
