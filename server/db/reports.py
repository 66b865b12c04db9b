"""Reports in the index: reports, their versions (append-only), signing keys, dictation,
deliveries, exports stored back into the archive, and template preferences.

A report belongs to a study and is visible exactly when its study is
(``server/db/visibility.py``). ``report_versions`` rows are only ever inserted: each
save, each preliminary mark and each signature adds one, so every version is kept and a
signed text is never overwritten. ``signing_keys`` hold public keys and private keys
sealed under the master key ring (``workbench.reports.keys``), never plain ones.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import ForeignKey, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base


class ReportRow(Base):
    """A report of a study; ``status`` mirrors its newest version (for listing)."""

    __tablename__ = "reports"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    study_pk: Mapped[int] = mapped_column(ForeignKey("studies.pk", ondelete="CASCADE"),
                                          index=True)
    account_pk: Mapped[int] = mapped_column(Integer, index=True)  # the study's account
    template: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    subject_json: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ReportVersionRow(Base):
    """One version of a report, never updated once written."""

    __tablename__ = "report_versions"
    __table_args__ = (UniqueConstraint("report_pk", "number"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_pk: Mapped[int] = mapped_column(ForeignKey("reports.pk", ondelete="CASCADE"),
                                           index=True)
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    content_json: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200))
    author_user_pk: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    saved_at: Mapped[str] = mapped_column(String(32))
    signature_json: Mapped[str | None] = mapped_column(Text, nullable=True)


class SigningKeyRow(Base):
    """A physician's signing key: public key, sealed private key, retirement."""

    __tablename__ = "signing_keys"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.pk"), index=True)
    public_key: Mapped[str] = mapped_column(String(64))  # base64 of 32 raw bytes
    sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None] = mapped_column(nullable=True)


class DictationRow(Base):
    """Dictation audio stored with a study, and its place in the transcription queue."""

    __tablename__ = "dictations"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_pk: Mapped[int] = mapped_column(ForeignKey("studies.pk", ondelete="CASCADE"),
                                          index=True)
    account_pk: Mapped[int] = mapped_column(Integer, index=True)
    report_pk: Mapped[int | None] = mapped_column(
        ForeignKey("reports.pk", ondelete="SET NULL"), nullable=True)
    uploaded_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    media_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(512))
    state: Mapped[str] = mapped_column(String(16), index=True)  # queued in_progress done
    claimed_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    transcribed_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    transcribed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    recognized_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class DeliveryRow(Base):
    """One delivery of a signed report version to one address, with its attempts."""

    __tablename__ = "report_deliveries"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_pk: Mapped[int] = mapped_column(ForeignKey("reports.pk", ondelete="CASCADE"),
                                           index=True)
    version_number: Mapped[int] = mapped_column(Integer)
    recipient_user_pk: Mapped[int | None] = mapped_column(Integer, nullable=True)
    recipient_name: Mapped[str] = mapped_column(String(200), default="")
    channel: Mapped[str] = mapped_column(String(8))  # email | fax
    address: Mapped[str] = mapped_column(String(254))
    mode: Mapped[str] = mapped_column(String(16))  # link | attachment | fax
    state: Mapped[str] = mapped_column(String(16), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    gateway_job: Mapped[str] = mapped_column(String(64), default="")
    link_sha256: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    link_expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    link_base: Mapped[str] = mapped_column(String(300), default="")  # the archive's URL
    requested_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None] = mapped_column(nullable=True)


class ReportExportRow(Base):
    """An SR or Encapsulated PDF instance stored into the archive for a signed version."""

    __tablename__ = "report_exports"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_pk: Mapped[int] = mapped_column(ForeignKey("reports.pk", ondelete="CASCADE"),
                                           index=True)
    version_number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))  # sr | pdf
    sop_uid: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


class ReportPreferenceRow(Base):
    """A physician's template per modality (``*``: any)."""

    __tablename__ = "report_preferences"
    __table_args__ = (UniqueConstraint("user_pk", "modality"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_pk: Mapped[int] = mapped_column(ForeignKey("users.pk", ondelete="CASCADE"),
                                         index=True)
    modality: Mapped[str] = mapped_column(String(16))
    template: Mapped[str] = mapped_column(String(64))


reports = cast(Table, ReportRow.__table__)
report_versions = cast(Table, ReportVersionRow.__table__)
signing_keys = cast(Table, SigningKeyRow.__table__)
dictations = cast(Table, DictationRow.__table__)
report_deliveries = cast(Table, DeliveryRow.__table__)
report_exports = cast(Table, ReportExportRow.__table__)
report_preferences = cast(Table, ReportPreferenceRow.__table__)
