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


@dataclass
class EventBus:
    """Named events dispatched to subscribed handlers on one worker thread.

    Parameters
    ----------
    attempts
        How often a failing handler is tried before the failure is logged and dropped.
    """

    attempts: int = 3
    backoff_s: float = 0.2
    _handlers: dict[str, list[Handler]] = field(default_factory=dict)
    _queue: queue.Queue[tuple[str, dict[str, Any]] | None] = field(default_factory=queue.Queue)
    _thread: threading.Thread | None = None

    def subscribe(self, name: str, handler: Handler) -> None:
        """Call ``handler(payload)`` for every event ``name``."""
        self._handlers.setdefault(name, []).append(handler)

    def emit(self, name: str, payload: dict[str, Any]) -> None:
        """Queue an event; returns at once."""
        if not self._handlers.get(name):
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
            if item is None:
                self._queue.task_done()
                return
            name, payload = item
            for handler in self._handlers.get(name, []):
                self._call(handler, name, payload)
            self._queue.task_done()

    def _call(self, handler: Handler, name: str, payload: dict[str, Any]) -> None:
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
