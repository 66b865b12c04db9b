"""The durable job table: background work that any server process may run, once at a time.

A row is one unit of work (``kind`` names the handler, ``payload`` is its JSON argument).
``(kind, idempotency_key)`` is unique, so enqueuing the same work twice stores it once.
A worker owns a running job while its lease (``lease_owner``, ``lease_expires``) lasts;
``server/services/jobs.py`` holds the rules. Times are naive UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Index, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.db.base import Base


class Job(Base):
    """One unit of background work and where it stands."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("kind", "idempotency_key"),
        Index("ix_jobs_state_run_after", "state", "run_after"),
    )

    pk: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text, default="{}")
    state: Mapped[str] = mapped_column(String(16), default="queued")  # running, done, dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    run_after: Mapped[datetime]
    lease_owner: Mapped[str] = mapped_column(String(128), default="")
    lease_expires: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


jobs = cast(Table, Job.__table__)
