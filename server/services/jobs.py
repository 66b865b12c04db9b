"""A durable job queue with leases, shared by every server process over the index.

Rules (table ``jobs``, ``server/db/jobs.py``):

- **enqueue** stores a job once per ``(kind, idempotency_key)``; a second enqueue of the
  same key returns the first job, whatever its state. Given a connection, it writes in
  the caller's transaction (ingest's events commit with the instances).
- **claim** picks the oldest job that is due (``queued`` and ``run_after`` passed) or whose
  worker vanished (``running`` with an expired lease), and takes it with a conditional
  ``UPDATE ... WHERE <still claimable>`` inside :func:`~server.db.engine.write_transaction`
  (SQLite's write lock, PostgreSQL's advisory lock): two workers never hold the same job.
  Claiming counts an attempt. **claim_run** takes the oldest due job and the due jobs of
  its kind right behind it, so a burst of small jobs runs as one batch (``run_batch``).
- **heartbeat** extends the lease while the handler runs; **complete** and **fail** only
  act while the caller still holds the lease (they return False when the lease was lost:
  another worker may be running the job by then).
- **fail** schedules a retry after an exponential backoff, or marks the job ``dead`` after
  ``max_attempts``; a job whose lease expires on its last attempt is marked dead too.
  A done job keeps its worker's name; **requeue** gives a dead job fresh attempts.

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
from itertools import takewhile
from typing import Any
from uuid import uuid4

from sqlalchemy import Connection, Engine, and_, delete, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from server.db.engine import write_transaction
from server.db.jobs import jobs
from workbench.errors import ConflictError, NotFoundError

Handler = Callable[[dict[str, Any]], None]
"""Runs one job from its payload; raising fails the attempt."""
BatchHandler = Callable[[list[dict[str, Any]]], None]
"""Runs several jobs of one kind from their payloads; raising fails them all."""


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
                run_after: datetime | None = None, conn: Connection | None = None) -> Job:
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
        conn
            A write transaction of the caller's (one of
            :func:`~server.db.engine.write_transaction`): the job then commits, or rolls
            back, with the rows it is about. Without a `key` this costs one ``INSERT``.
        """
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if conn is not None:
            return self._enqueue(conn, kind, payload, key, max_attempts, run_after)
        with write_transaction(self.engine) as own:
            return self._enqueue(own, kind, payload, key, max_attempts, run_after)

    def _enqueue(self, conn: Connection, kind: str, payload: Mapping[str, Any] | None,
                 key: str | None, max_attempts: int, run_after: datetime | None) -> Job:
        now = self.clock()
        given = key is not None
        key = key or uuid4().hex
        values: dict[str, Any] = {"kind": kind, "idempotency_key": key,
                  "payload": json.dumps(dict(payload or {})), "state": "queued",
                  "attempts": 0, "max_attempts": max_attempts, "run_after": run_after or now,
                  "lease_owner": "", "lease_expires": None, "last_error": "",
                  "created_at": now, "finished_at": None}
        if given:
            row = self._by_key(conn, kind, key)
            if row is not None:
                return Job.from_row(row)
        made = conn.execute(jobs.insert().values(**values)).inserted_primary_key
        assert made is not None
        return Job(int(made[0]), kind, key, dict(payload or {}), "queued", 0, max_attempts,
                   run_after or now, "", None, "")

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
            self._bury(conn, now)
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

    def claim_run(self, worker: str, kinds: tuple[str, ...], limit: int = 100) -> list[Job]:
        """Take the oldest due job of `kinds` and the due jobs of its kind that follow it
        directly in the queue's order (at most `limit` in all), in that order.

        Stopping at the first job of another kind keeps the queue's order: what was
        enqueued before a job is handled before it (or with it).
        """
        now = self.clock()
        with write_transaction(self.engine) as conn:
            self._bury(conn, now)
            rows = conn.execute(select(jobs.c.pk, jobs.c.kind).where(
                self._claimable(now), jobs.c.kind.in_(kinds)).order_by(
                jobs.c.run_after, jobs.c.pk).limit(limit)).all()
            if not rows:
                return []
            pks = [row.pk for row in takewhile(lambda row: row.kind == rows[0].kind, rows)]
            conn.execute(update(jobs).where(jobs.c.pk.in_(pks), self._claimable(now)).values(
                state="running", lease_owner=worker, lease_expires=now + self.lease,
                attempts=jobs.c.attempts + 1))
            return [Job.from_row(row) for row in conn.execute(select(jobs).where(
                jobs.c.pk.in_(pks)).order_by(jobs.c.run_after, jobs.c.pk))]

    @staticmethod
    def _bury(conn: Connection, now: datetime) -> None:
        """Jobs whose worker died on their last attempt: dead."""
        conn.execute(update(jobs).where(
            jobs.c.state == "running", jobs.c.lease_expires < now,
            jobs.c.attempts >= jobs.c.max_attempts,
        ).values(state="dead", finished_at=now, lease_owner="", lease_expires=None,
                 last_error="lease expired on the last attempt"))

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
        """Mark the job done; False (and nothing changed) if `worker` lost its lease.

        A done job keeps `worker` as its ``lease_owner``: who ran it.
        """
        with write_transaction(self.engine) as conn:
            done = conn.execute(update(jobs).where(self._held(job_id, worker)).values(
                state="done", finished_at=self.clock(), lease_expires=None))
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

    def has_due(self, kinds: tuple[str, ...] | None = None) -> bool:
        """Whether a job (of `kinds`) is due or lost its worker: one read, no write lock.

        Idle workers ask this before :meth:`claim`, so that polling costs a read and not
        a write transaction (which would queue behind ingest on SQLite).
        """
        now = self.clock()
        pick = select(jobs.c.pk).where(or_(
            and_(jobs.c.state == "queued", jobs.c.run_after <= now),
            and_(jobs.c.state == "running", jobs.c.lease_expires < now)))
        if kinds is not None:
            pick = pick.where(jobs.c.kind.in_(kinds))
        with self.engine.connect() as conn:
            return conn.execute(pick.limit(1)).first() is not None

    def find(self, state: str | None = None, *, kind: str | None = None, limit: int = 100,
             offset: int = 0) -> list[Job]:
        """Jobs (in `state`, of `kind`), newest first."""
        stmt = select(jobs).order_by(jobs.c.pk.desc()).limit(limit).offset(offset)
        if state is not None:
            stmt = stmt.where(jobs.c.state == state)
        if kind is not None:
            stmt = stmt.where(jobs.c.kind == kind)
        with self.engine.connect() as conn:
            return [Job.from_row(row) for row in conn.execute(stmt)]

    def requeue(self, job_id: int) -> Job:
        """Give a ``dead`` job a fresh set of attempts, due now.

        Raises
        ------
        NotFoundError
            No such job.
        ConflictError
            The job is not dead (queued, running or done jobs are left as they are).
        """
        now = self.clock()
        with write_transaction(self.engine) as conn:
            row = conn.execute(select(jobs).where(jobs.c.pk == job_id)).first()
            if row is None:
                raise NotFoundError(f"no job {job_id}")
            if row.state != "dead":
                raise ConflictError(f"job {job_id} is {row.state}: only a dead job is "
                                    "requeued")
            conn.execute(update(jobs).where(jobs.c.pk == job_id).values(
                state="queued", attempts=0, run_after=now, lease_owner="",
                lease_expires=None, finished_at=None))
            return Job.from_row(conn.execute(select(jobs).where(jobs.c.pk == job_id)).one())

    def prune(self, before: datetime) -> int:
        """Delete ``done`` jobs finished before `before`; how many.

        Their idempotency keys go with them: prune only what no one enqueues again
        (a day's periodic job, an event long handled).
        """
        with write_transaction(self.engine) as conn:
            gone = conn.execute(delete(jobs).where(jobs.c.state == "done",
                                                   jobs.c.finished_at < before))
            return int(gone.rowcount)

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

    def run_batch(self, worker: str, handlers: Mapping[str, BatchHandler],
                  limit: int = 100) -> list[Job]:
        """:meth:`claim_run`, run the kind's handler once with the payloads, then complete
        them together (one transaction) or fail each.

        A burst of small jobs (an event per STOW request) then costs two write
        transactions, not two per job. Returns the jobs claimed (empty when none was due).
        """
        claimed = self.claim_run(worker, tuple(handlers), limit)
        if not claimed:
            return []
        ids = [job.id for job in claimed]
        stop = threading.Event()
        beat = threading.Thread(target=self._beat_all, args=(ids, worker, stop), daemon=True)
        beat.start()
        try:
            handlers[claimed[0].kind]([job.payload for job in claimed])
        except Exception as exc:  # noqa: BLE001 - any handler error fails the attempt
            stop.set()
            beat.join()
            for job_id in ids:
                self.fail(job_id, worker, f"{type(exc).__name__}: {exc}")
            return claimed
        stop.set()
        beat.join()
        with write_transaction(self.engine) as conn:
            conn.execute(update(jobs).where(
                jobs.c.pk.in_(ids), jobs.c.state == "running", jobs.c.lease_owner == worker
            ).values(state="done", finished_at=self.clock(), lease_expires=None))
        return claimed

    def _beat_all(self, ids: list[int], worker: str, stop: threading.Event) -> None:
        interval = self.lease.total_seconds() / 3
        while not stop.wait(interval):
            with write_transaction(self.engine) as conn:
                conn.execute(update(jobs).where(
                    jobs.c.pk.in_(ids), jobs.c.state == "running",
                    jobs.c.lease_owner == worker).values(lease_expires=self.clock() + self.lease))

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
