"""Billing and retention tables: the ledger, month closings, each study's storage term.

``ledger_entries`` is append-only: the migration installs triggers that refuse UPDATE and
DELETE, so a mistake is corrected by a new entry (a credit), never by an edit. Amounts
are signed integer cents (charges positive, payments and credits negative; see
``workbench.billing``). ``(account_pk, idempotency_key)`` is unique: writing the same
charge twice is a no-op.

``study_retention`` holds what the default rule (6 months from receipt) does not: paid
extensions, legal holds, and, after the purge, the minimal record that the study existed.
It is keyed by Study Instance UID, not by the ``studies`` row, which the purge deletes.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base
from workbench.retention import INCLUDED_MONTHS


class LedgerEntry(Base):
    """One charge, payment or credit of an account."""

    __tablename__ = "ledger_entries"
    __table_args__ = (UniqueConstraint("account_pk", "idempotency_key"),
                      Index("ix_ledger_entries_account_at", "account_pk", "at"))

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.pk"))
    at: Mapped[datetime] = mapped_column(index=True)  # when it applies (naive UTC)
    recorded_at: Mapped[datetime]                     # when it was written
    kind: Mapped[str] = mapped_column(String(16))     # workbench.billing.EntryKind
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text, default="")
    study_uid: Mapped[str] = mapped_column(String(64), default="", index=True)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(300), default="")
    reference: Mapped[str] = mapped_column(String(200), default="")  # payment provider's


class MonthClosing(Base):
    """The standing of one account for one closed month (``period`` is ``YYYY-MM``)."""

    __tablename__ = "month_closings"
    __table_args__ = (UniqueConstraint("account_pk", "period"),)

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.pk"), index=True)
    period: Mapped[str] = mapped_column(String(7))
    minimum_due: Mapped[int] = mapped_column(BigInteger)
    paid: Mapped[int] = mapped_column(BigInteger)
    met: Mapped[bool] = mapped_column(Boolean)
    closed_at: Mapped[datetime]
    settled_at: Mapped[datetime | None] = mapped_column(nullable=True)  # shortfall paid


class StudyRetention(Base):
    """A study's storage term beyond the default, and its record once purged."""

    __tablename__ = "study_retention"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_uid: Mapped[str] = mapped_column(String(64), unique=True)
    account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.pk"), index=True)
    received_at: Mapped[datetime]
    receipt: Mapped[int] = mapped_column(Integer, default=0)  # times stored again after a purge
    paid_months: Mapped[int] = mapped_column(Integer, default=INCLUDED_MONTHS)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False)
    hold_reason: Mapped[str] = mapped_column(Text, default="")
    hold_by: Mapped[str] = mapped_column(String(300), default="")
    hold_at: Mapped[datetime | None] = mapped_column(nullable=True)
    purged_at: Mapped[datetime | None] = mapped_column(nullable=True, index=True)
    num_instances: Mapped[int] = mapped_column(Integer, default=0)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    modalities: Mapped[str] = mapped_column(String(200), default="")  # space separated
    pending_blobs: Mapped[str] = mapped_column(Text, default="")  # JSON list: purge unfinished
    updated_at: Mapped[datetime]


ledger_entries = cast(Table, LedgerEntry.__table__)
month_closings = cast(Table, MonthClosing.__table__)
study_retention = cast(Table, StudyRetention.__table__)
