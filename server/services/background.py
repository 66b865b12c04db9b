"""The job worker of a server process: durable events and daily jobs from the job table.

Every server process (unless ``WORKBENCH_JOB_WORKER=false``) runs one :class:`JobWorker`
thread over the shared :class:`~server.services.jobs.JobQueue`. It runs

- the durable events (``event:<name>`` jobs, handlers from the process's
  :class:`~server.services.events.EventBus`),
- the daily jobs (:class:`Daily`): each worker enqueues the day's job under the key
  ``YYYY-MM-DD``, so a cluster stores one per day whichever worker gets there first,
  and one worker runs it.

Idle, the worker asks the table whether anything is due (a read) every ``poll_s``; the
bus wakes it at once when this process wrote an event. A job's lease is extended while
its handler runs (:meth:`JobQueue.run_one`), so a long purge keeps its job.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from server.db.engine import refresh_statistics
from server.services.events import EventBus
from server.services.jobs import BatchHandler, Handler, JobQueue, utcnow

if TYPE_CHECKING:
    from server.deps import Services

log = logging.getLogger(__name__)

PURGE = "purge"
"""Daily: purge the studies whose storage term ended (``server/services/purge.py``)."""
PRUNE = "prune jobs"
"""Daily: delete jobs done more than :data:`KEEP_DONE` ago."""
STATISTICS = "refresh statistics"
"""Daily: the SQLite query planner's statistics (``server/db/engine.py``; a no-op on
PostgreSQL, whose autovacuum keeps its own)."""
KEEP_DONE = timedelta(days=7)
"""How long done jobs stay in the table (the admin view shows them meanwhile)."""


def worker_name() -> str:
    """``host:pid``: who holds a lease, as the admin view shows it."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Daily:
    """A job enqueued once a day per cluster.

    Parameters
    ----------
    kind
        The job kind (a handler of the worker).
    hour
        UTC hour from which the day's job is due.
    """

    kind: str
    hour: int = 0

    def key(self, day: date) -> str:
        """The idempotency key of the job of `day`."""
        return day.isoformat()

    def due(self, day: date) -> datetime:
        """When the job of `day` may run (naive UTC)."""
        return datetime.combine(day, time(self.hour))


class JobWorker:
    """One thread that schedules daily jobs and runs due jobs, one at a time.

    Parameters
    ----------
    queue
        The job table.
    events
        Its event handlers run the ``event:*`` jobs (looked up on each round, so
        subscriptions made after the worker started count).
    handlers
        Handlers of the other job kinds (daily jobs included).
    daily
        Jobs to enqueue once a day.
    name
        The lease owner's name (default :func:`worker_name`).
    poll_s
        Pause between two looks at the table when nothing is due.
    linger_s
        Wait after a wake-up, so that the jobs of a burst are claimed together.
    batch
        Most jobs of one kind claimed and run together.
    """

    def __init__(self, queue: JobQueue, events: EventBus, handlers: Mapping[str, Handler],
                 *, daily: Sequence[Daily] = (), name: str | None = None,
                 poll_s: float = 1.0, linger_s: float = 0.2, batch: int = 100,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.queue = queue
        self.events = events
        self.handlers = dict(handlers)
        self.daily = tuple(daily)
        self.name = name or worker_name()
        self.poll_s = poll_s
        self.linger_s = linger_s
        self.batch = batch
        self.clock = clock
        self._scheduled: dict[str, date] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread."""
        self._thread = threading.Thread(target=self._loop, name="job-worker", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look at the table now (a job was just written)."""
        self._wake.set()

    def close(self, timeout: float = 30.0) -> None:
        """Stop after the job in hand (if any); its lease lets another worker take it
        should the process die first."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def all_handlers(self) -> dict[str, BatchHandler]:
        """Job kind -> handler of a run of jobs: the events' and the others', each
        logging its failure."""
        found = {**self.events.job_handlers(),
                 **{kind: _each(handler) for kind, handler in self.handlers.items()}}
        return {kind: _logged(kind, handler) for kind, handler in found.items()}

    def schedule(self) -> None:
        """Enqueue today's daily jobs not enqueued by this worker yet (idempotent)."""
        today = self.clock().date()
        for job in self.daily:
            if self._scheduled.get(job.kind) != today:
                self.queue.enqueue(job.kind, {"day": today.isoformat()}, key=job.key(today),
                                   run_after=job.due(today))
                self._scheduled[job.kind] = today

    def run_due(self) -> bool:
        """Run the next due run of jobs of one kind, if any (:meth:`JobQueue.run_batch`);
        whether one ran."""
        handlers = self.all_handlers()
        if not handlers or not self.queue.has_due(tuple(handlers)):
            return False
        return bool(self.queue.run_batch(self.name, handlers, self.batch))

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.schedule()
                ran = self.run_due()
            except Exception:  # a locked or unreachable index must not end the thread
                log.exception("job worker round failed")
                ran = False
            if not ran:
                woken = self._wake.wait(self.poll_s)
                self._wake.clear()
                if woken:  # events come in bursts (a request each): take them together
                    self._stop.wait(self.linger_s)


def _each(handler: Handler) -> BatchHandler:
    def run(payloads: list[dict[str, Any]]) -> None:
        for payload in payloads:
            handler(payload)

    return run


def _logged(kind: str, handler: BatchHandler) -> BatchHandler:
    def run(payloads: list[dict[str, Any]]) -> None:
        try:
            handler(payloads)
        except Exception:
            log.warning("%d %r jobs failed (retried, or dead after their last attempt)",
                        len(payloads), kind, exc_info=True)
            raise

    return run


def purge_handler(services: Services) -> Handler:
    """The daily purge job: :func:`server.services.purge.purge` on this archive.

    Studies that failed are named in the error, so the job is retried (the purge is
    safe to run again: it finishes what a run left and skips what is gone).
    """
    from server.services.purge import Stores, purge

    def run(payload: dict[str, Any]) -> None:
        report = purge(services.engine, Stores(services.store, services.media_store),
                       services.audit, services.events,
                       actor=f"daily purge {payload.get('day', '')}".strip(), dry_run=False)
        if report.studies or report.resumed:
            log.info("daily purge: %d studies purged, %d finished after an interruption",
                     len(report.studies), len(report.resumed))
        if report.failed:
            raise RuntimeError("purge failed for " + ", ".join(
                f"{uid} ({why})" for uid, why in report.failed))

    return run


def prune_handler(queue: JobQueue) -> Handler:
    """The daily clean-up of the job table (done jobs older than :data:`KEEP_DONE`)."""

    def run(payload: dict[str, Any]) -> None:
        queue.prune(queue.clock() - KEEP_DONE)

    return run


def server_worker(services: Services, queue: JobQueue) -> JobWorker:
    """The worker of a server process: events, the daily purge (at
    ``WORKBENCH_PURGE_HOUR``, none if negative), the job table's clean-up and the
    index statistics."""
    hour = services.settings.purge_hour
    handlers: dict[str, Handler] = {
        PRUNE: prune_handler(queue),
        STATISTICS: lambda payload: refresh_statistics(services.engine)}
    daily = [Daily(PRUNE), Daily(STATISTICS, 3)]
    if hour >= 0:
        handlers[PURGE] = purge_handler(services)
        daily.append(Daily(PURGE, hour))
    worker = JobWorker(queue, services.events, handlers, daily=daily)
    services.events.on_enqueued(worker.wake)
    return worker
