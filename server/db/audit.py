"""The audit trail table: append-only and hash-chained.

Each row's ``hash`` is SHA-256 over the previous row's hash and this row's fields
(``server/services/audit.py`` says exactly which), so changing, inserting or removing a
row anywhere breaks the chain from there on.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base


class AuditEvent(Base):
    """Who did what to which resource, when, from where, with what outcome."""

    __tablename__ = "audit_events"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[str] = mapped_column(String(32), index=True)  # ISO 8601 UTC, microseconds
    actor_user_pk: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    actor_account_pk: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    actor: Mapped[str] = mapped_column(String(300), default="")
    action: Mapped[str] = mapped_column(String(64), index=True)
    resource: Mapped[str] = mapped_column(Text, default="")
    study_uid: Mapped[str] = mapped_column(String(64), default="", index=True)
    account_pk: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    remote: Mapped[str] = mapped_column(String(64), default="")
    outcome: Mapped[str] = mapped_column(String(32), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


audit_events = cast(Table, AuditEvent.__table__)
