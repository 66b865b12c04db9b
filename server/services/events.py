"""Events after a commit ("instance stored", "study deleted"), in memory or durable.

Handlers are wired in ``create_app()``. By default (tools, tests of one service) they run
on a background thread of the emitting process after the transaction that made the event
true has committed, with retries, so that a slow or failing handler never delays or
loses an acknowledged instance; a process killed before its handlers ran loses the event.

The server makes its bus durable (:meth:`EventBus.make_durable`): every event becomes a
row of the job table (kind ``event:<name>``, payload ``{"events": [...]}``) that any
server process's job worker (``server/services/background.py``) runs once, with the same
handlers. Ingest writes its events with :meth:`EventBus.emit_in` inside the transaction
that indexes the instances (one row per transaction), so they commit, or not, with them.
Other events are enqueued right after their commit by :meth:`EventBus.emit`.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from server.services.jobs import JobQueue

log = logging.getLogger(__name__)

INSTANCE_STORED = "instance stored"
STUDY_DELETED = "study deleted"
MEDIA_STORED = "media stored"
"""A non-DICOM file was added to a study or folder: payload account, study, media, type."""
REPORT_CREATED = "report created"
"""A study gained a report (``server/services/reports.py``): payload account (the study's),
study, report, user. Billing charges the Advanced Toolset fee on it (once per study)."""
DICTATION_STORED = "dictation stored"
"""Dictation audio was stored with a study: payload account, study, dictation, user. Counts
for the Advanced Toolset fee like a report."""
ANNOTATION_CREATED = "annotation created"
"""A study gained its first annotation (``server/services/annotations.py``): payload account
(the study's), study, annotation, user. Counts for the Advanced Toolset fee."""

Handler = Callable[[dict[str, Any]], None]
BatchHandler = Callable[[list[dict[str, Any]]], None]
MAX_BATCH = 500
JOB_PREFIX = "event:"
"""Job kinds of durable events: ``event:instance stored``, ..."""


def job_kind(name: str) -> str:
    """The job kind that carries event `name` on a durable bus."""
    return JOB_PREFIX + name


@dataclass
class EventBus:
    """Named events dispatched to subscribed handlers on one worker thread.

    Parameters
    ----------
    attempts
        How often a failing handler is tried before the failure is logged and dropped.
    backoff_s
        Pause before the second attempt (doubled, tripled, ... after that).
    linger_s
        How long an event with a batch handler waits for more to arrive (events come
        in bursts: one per instance of a multipart request or an association).
    """

    attempts: int = 3
    backoff_s: float = 0.2
    linger_s: float = 0.05
    _handlers: dict[str, list[Handler]] = field(default_factory=dict)
    _batch_handlers: dict[str, list[BatchHandler]] = field(default_factory=dict)
    _queue: queue.Queue[tuple[str, dict[str, Any]] | None] = field(default_factory=queue.Queue)
    _thread: threading.Thread | None = None
    _jobs: JobQueue | None = None
    _notify: Callable[[], None] | None = None

    def make_durable(self, jobs: JobQueue) -> None:
        """From now on, events are jobs in `jobs` instead of items of a memory queue."""
        self._jobs = jobs

    @property
    def durable(self) -> bool:
        """Whether events are written to the job table."""
        return self._jobs is not None

    def on_enqueued(self, notify: Callable[[], None]) -> None:
        """Call `notify` (wake this process's job worker) after an event was written."""
        self._notify = notify

    def notify(self) -> None:
        """Wake the local job worker (after a commit that wrote events with emit_in)."""
        if self._notify is not None:
            self._notify()

    def listens(self, name: str) -> bool:
        """Whether any handler is subscribed to event `name`."""
        return bool(self._handlers.get(name) or self._batch_handlers.get(name))

    def emit_in(self, conn: Connection, name: str, payloads: list[dict[str, Any]]) -> None:
        """Write events `name` as one job inside the caller's write transaction.

        Only on a durable bus (check :attr:`durable`; otherwise emit after the commit).
        Call :meth:`notify` once the transaction committed.
        """
        if self._jobs is None:
            raise RuntimeError("emit_in needs a durable bus (make_durable)")
        if payloads and self.listens(name):
            self._jobs.enqueue(job_kind(name), {"events": payloads}, conn=conn)

    def emit_with(self, conn: Connection, name: str, payload: dict[str, Any]) -> None:
        """Emit `name` as part of the caller's write transaction `conn`.

        On a durable bus the event is written in that transaction, so it commits (or
        rolls back) with the rows it is about and a process killed after the commit
        cannot lose it; the local worker is woken when it commits. Otherwise the event is
        queued when the transaction commits.
        """
        from sqlalchemy import event

        if self.durable:
            self.emit_in(conn, name, [payload])
            event.listen(conn, "commit", lambda _conn: self.notify(), once=True)
        else:
            event.listen(conn, "commit", lambda _conn: self.emit(name, payload), once=True)

    def job_handlers(self) -> dict[str, Callable[[list[dict[str, Any]]], None]]:
        """One handler of event jobs per event with subscribers, keyed by job kind.

        It takes the payloads of several jobs of the kind (each ``{"events": [...]}``)
        and runs every handler of the event on all their events, in order (batch handlers
        once with the list); if any raised, the first error is raised after the others
        ran, so the jobs are retried (the handlers are idempotent).
        """
        names = set(self._handlers) | set(self._batch_handlers)
        return {job_kind(name): self._job_handler(name) for name in names if self.listens(name)}

    def _job_handler(self, name: str) -> Callable[[list[dict[str, Any]]], None]:
        def run(payloads: list[dict[str, Any]]) -> None:
            events = [dict(e) for payload in payloads for e in payload.get("events", [])]
            errors: list[Exception] = []
            for batch_handler in self._batch_handlers.get(name, []):
                try:
                    batch_handler(events)
                except Exception as exc:  # noqa: BLE001 - the others still run
                    errors.append(exc)
            for handler in self._handlers.get(name, []):
                for event in events:
                    try:
                        handler(event)
                    except Exception as exc:  # noqa: BLE001 - the others still run
                        errors.append(exc)
            if errors:
                raise errors[0]

        run.__name__ = f"run_{name.replace(' ', '_')}"
        return run

    def subscribe(self, name: str, handler: Handler) -> None:
        """Call ``handler(payload)`` for every event ``name``."""
        self._handlers.setdefault(name, []).append(handler)

    def subscribe_batch(self, name: str, handler: BatchHandler) -> None:
        """Call ``handler(payloads)`` with the events ``name`` queued together, in order.

        Under load events queue up while the worker is busy, so a batch handler can
        answer many of them with one lookup (the ledger: one per study, not per instance).
        """
        self._batch_handlers.setdefault(name, []).append(handler)

    def emit(self, name: str, payload: dict[str, Any]) -> None:
        """Queue an event (after the commit that made it true).

        On a durable bus this writes a job (one short write transaction) and wakes the
        local worker; otherwise it returns at once.
        """
        if not self.listens(name):
            return
        if self._jobs is not None:
            self._jobs.enqueue(job_kind(name), {"events": [payload]})
            self.notify()
            return
        self._start()
        self._queue.put((name, payload))

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="events", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            items = [item]
            # batch handlers want bursts together: wait a moment for the rest of one
            deadline = time.monotonic() + (
                self.linger_s if item is not None and item[0] in self._batch_handlers else 0.0)
            while item is not None and len(items) < MAX_BATCH:
                remaining = deadline - time.monotonic()
                try:
                    item = (self._queue.get(timeout=remaining) if remaining > 0
                            else self._queue.get_nowait())
                except queue.Empty:
                    break
                items.append(item)
            stop = items[-1] is None
            events = [i for i in items if i is not None]
            start = 0
            while start < len(events):  # runs of the same event, in order
                name = events[start][0]
                end = start
                while end < len(events) and events[end][0] == name:
                    end += 1
                payloads = [payload for _, payload in events[start:end]]
                for batch_handler in self._batch_handlers.get(name, []):
                    self._call(batch_handler, name, payloads)
                for handler in self._handlers.get(name, []):
                    for payload in payloads:
                        self._call(handler, name, payload)
                start = end
            for _ in items:
                self._queue.task_done()
            if stop:
                return

    def _call(self, handler: Callable[[Any], None], name: str, payload: Any) -> None:
        for attempt in range(1, self.attempts + 1):
            try:
                handler(payload)
                return
            except Exception:  # a handler's failure must not stop the others
                if attempt == self.attempts:
                    log.exception("handler %s for %r failed %d times", handler, name, attempt)
                else:
                    time.sleep(self.backoff_s * attempt)

    def drain(self) -> None:
        """Block until every queued event has been handled (tests, shutdown)."""
        if self._thread is not None:
            self._queue.join()

    def close(self) -> None:
        """Finish queued events and stop the worker."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=10)
