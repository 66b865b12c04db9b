"""A durable job queue with leases, shared by every server process over the index.

Rules (table ``jobs``, ``server/db/jobs.py``):

- **enqueue** stores a job once per ``(kind, idempotency_key)``; a second enqueue of the
  same key returns the first job, whatever its state.
- **claim** picks the oldest job that is due (``queued`` and ``run_after`` passed) or whose
  worker vanished (``running`` with an expired lease), and takes it with a conditional
  ``UPDATE ... WHERE <still claimable>`` inside :func:`~server.db.engine.write_transaction`
  (SQLite's write lock, PostgreSQL's advisory lock): two workers never hold the same job.
  Claiming counts an attempt.
- **heartbeat** extends the lease while the handler runs; **complete** and **fail** only
  act while the caller still holds the lease (they return False when the lease was lost:
  another worker may be running the job by then).
- **fail** schedules a retry after an exponential backoff, or marks the job ``dead`` after
  ``max_attempts``; a job whose lease expires on its last attempt is marked dead too.

Delivery is at least once: a worker that dies after its handler's side effects but before
``complete`` has its job run again when the lease expires, so handlers must be idempotent
(as the event handlers already are). Times come from the Python clock of each process
(naive UTC), so the machines' clocks must agree to well under a lease.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from sqlalchemy import Connection, Engine, and_, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from server.db.engine import write_transaction
from server.db.jobs import jobs

Handler = Callable[[dict[str, Any]], None]
"""Runs one job from its payload; raising fails the attempt."""


def utcnow() -> datetime:
    """Now, naive UTC (the table's convention)."""
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Job:
    """A job as read from the table."""

    id: int
    kind: str
    key: str
    payload: dict[str, Any]
    state: str
    attempts: int
    max_attempts: int
    run_after: datetime
    lease_owner: str
    lease_expires: datetime | None
    last_error: str

    @classmethod
    def from_row(cls, row: Any) -> Job:
        """Build from a ``jobs`` row."""
        return cls(row.pk, row.kind, row.idempotency_key, json.loads(row.payload), row.state,
                   row.attempts, row.max_attempts, row.run_after, row.lease_owner,
                   row.lease_expires, row.last_error)


class JobQueue:
    """Enqueue, claim, heartbeat, complete and fail jobs in the index database.

    Parameters
    ----------
    engine
        The index engine (SQLite or PostgreSQL), migrated.
    lease
        How long a claim lasts without a heartbeat.
    backoff, max_backoff
        Delay before retry ``n`` is ``backoff * 2 ** (n - 1)``, at most ``max_backoff``.
    clock
        Returns naive UTC now; tests pass a fake one.

    Examples
    --------
    >>> queue = JobQueue(engine)                                   # doctest: +SKIP
    >>> queue.enqueue("thumbnail", {"sop_uid": "1.2.3"}, key="1.2.3")  # doctest: +SKIP
    >>> queue.run_one("worker-1", {"thumbnail": make_thumbnail})   # doctest: +SKIP
    """

    def __init__(self, engine: Engine, *, lease: timedelta = timedelta(seconds=60),
                 backoff: timedelta = timedelta(seconds=5),
                 max_backoff: timedelta = timedelta(hours=1),
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self.lease = lease
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.clock = clock

    def enqueue(self, kind: str, payload: Mapping[str, Any] | None = None, *,
                key: str | None = None, max_attempts: int = 5,
                run_after: datetime | None = None) -> Job:
        """Store a job unless one with the same `kind` and `key` exists; return the job.

        Parameters
        ----------
        kind
            Names the handler.
        payload
            JSON-serialisable argument of the handler.
        key
            Idempotency key (default: a new UUID, i.e. always a new job).
        max_attempts
            Attempts before the job is ``dead``.
        run_after
            Not before this naive UTC time (default: now).
        """
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        key = key or uuid4().hex
        now = self.clock()
        with write_transaction(self.engine) as conn:
            row = self._by_key(conn, kind, key)
            if row is None:
                conn.execute(jobs.insert().values(
                    kind=kind, idempotency_key=key, payload=json.dumps(dict(payload or {})),
                    state="queued", attempts=0, max_attempts=max_attempts,
                    run_after=run_after or now, lease_owner="", lease_expires=None,
                    last_error="", created_at=now, finished_at=None))
                row = self._by_key(conn, kind, key)
            assert row is not None
            return Job.from_row(row)

    @staticmethod
    def _by_key(conn: Connection, kind: str, key: str) -> Any:
        return conn.execute(select(jobs).where(
            jobs.c.kind == kind, jobs.c.idempotency_key == key)).first()

    def _claimable(self, now: datetime) -> ColumnElement[bool]:
        due = and_(jobs.c.state == "queued", jobs.c.run_after <= now)
        orphaned = and_(jobs.c.state == "running", jobs.c.lease_expires < now,
                        jobs.c.attempts < jobs.c.max_attempts)
        return or_(due, orphaned)

    def claim(self, worker: str, kinds: tuple[str, ...] | None = None) -> Job | None:
        """Take the next due job for `worker` (one of `kinds`, default any); None if none."""
        now = self.clock()
        with write_transaction(self.engine) as conn:
            conn.execute(update(jobs).where(  # died on its last attempt: give up
                jobs.c.state == "running", jobs.c.lease_expires < now,
                jobs.c.attempts >= jobs.c.max_attempts,
            ).values(state="dead", finished_at=now, lease_owner="", lease_expires=None,
                     last_error="lease expired on the last attempt"))
            pick = select(jobs.c.pk).where(self._claimable(now))
            if kinds is not None:
                pick = pick.where(jobs.c.kind.in_(kinds))
            pk = conn.execute(pick.order_by(jobs.c.run_after, jobs.c.pk).limit(1)).scalar()
            if pk is None:
                return None
            taken = conn.execute(update(jobs).where(
                jobs.c.pk == pk, self._claimable(now),
            ).values(state="running", lease_owner=worker, lease_expires=now + self.lease,
                     attempts=jobs.c.attempts + 1))
            if taken.rowcount != 1:  # pragma: no cover - the write lock makes this moot
                return None
            return Job.from_row(conn.execute(select(jobs).where(jobs.c.pk == pk)).one())

    def _held(self, job_id: int, worker: str) -> ColumnElement[bool]:
        return and_(jobs.c.pk == job_id, jobs.c.state == "running",
                    jobs.c.lease_owner == worker)

    def heartbeat(self, job_id: int, worker: str) -> bool:
        """Extend `worker`'s lease on the job; False if it no longer holds it."""
        with write_transaction(self.engine) as conn:
            done = conn.execute(update(jobs).where(self._held(job_id, worker)).values(
                lease_expires=self.clock() + self.lease))
            return done.rowcount == 1

    def complete(self, job_id: int, worker: str) -> bool:
        """Mark the job done; False (and nothing changed) if `worker` lost its lease."""
        with write_transaction(self.engine) as conn:
            done = conn.execute(update(jobs).where(self._held(job_id, worker)).values(
                state="done", finished_at=self.clock(), lease_owner="", lease_expires=None))
            return done.rowcount == 1

    def fail(self, job_id: int, worker: str, error: str) -> str | None:
        """Record a failed attempt: retry after a backoff, or ``dead`` after the last.

        Returns the job's new state, or None if `worker` had lost its lease.
        """
        now = self.clock()
        with write_transaction(self.engine) as conn:
            row = conn.execute(select(jobs).where(self._held(job_id, worker))).first()
            if row is None:
                return None
            if row.attempts >= row.max_attempts:
                values: dict[str, Any] = {"state": "dead", "finished_at": now}
            else:
                delay = min(self.backoff * 2 ** (row.attempts - 1), self.max_backoff)
                values = {"state": "queued", "run_after": now + delay}
            conn.execute(update(jobs).where(jobs.c.pk == job_id).values(
                lease_owner="", lease_expires=None, last_error=error[-2000:], **values))
            return str(values["state"])

    def get(self, job_id: int) -> Job:
        """Read one job."""
        with self.engine.connect() as conn:
            return Job.from_row(conn.execute(select(jobs).where(jobs.c.pk == job_id)).one())

    def run_one(self, worker: str, handlers: Mapping[str, Handler]) -> Job | None:
        """Claim one job of a kind in `handlers`, run it with heartbeats, complete or fail.

        Returns the job claimed (as claimed), or None when nothing was due.
        """
        job = self.claim(worker, tuple(handlers))
        if job is None:
            return None
        stop = threading.Event()
        beat = threading.Thread(target=self._beat, args=(job.id, worker, stop), daemon=True)
        beat.start()
        try:
            handlers[job.kind](job.payload)
        except Exception as exc:  # noqa: BLE001 - any handler error fails the attempt
            stop.set()
            beat.join()
            self.fail(job.id, worker, f"{type(exc).__name__}: {exc}")
            return job
        stop.set()
        beat.join()
        self.complete(job.id, worker)
        return job

    def _beat(self, job_id: int, worker: str, stop: threading.Event) -> None:
        interval = self.lease.total_seconds() / 3
        while not stop.wait(interval):
            if not self.heartbeat(job_id, worker):
                return

    def work(self, worker: str, handlers: Mapping[str, Handler], stop: threading.Event,
             poll: float = 1.0) -> None:
        """Run jobs until `stop` is set, polling every `poll` seconds when idle."""
        while not stop.is_set():
            if self.run_one(worker, handlers) is None:
                stop.wait(poll)
