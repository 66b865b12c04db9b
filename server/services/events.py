"""In-process events after ingest commits ("instance stored", "study deleted").

Handlers are wired in ``create_app()``; they run on a background thread after the
transaction that made the event true has committed, with retries, so that a slow or
failing handler never delays or loses an acknowledged instance.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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
        """Queue an event; returns at once."""
        if not self._handlers.get(name) and not self._batch_handlers.get(name):
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
