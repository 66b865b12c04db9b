"""The forwarder: send idle spooled studies to a remote archive over STOW-RS.

One thread looks for studies that received nothing for the idle time and sends their
instances in requests of at most ``batch_bytes``. What the archive confirms (stored, or
already stored with identical content) leaves the spool; what it refuses for good (the
instance itself is at fault: unreadable, conflicting duplicate, not authorised) moves to
``failed`` with the reason; anything else (archive unreachable, HTTP 5xx, out of
resources, a refused token) is tried again after a backoff that doubles up to
``retry_max_s``. Sending the same bytes again after a crash or a lost answer is harmless:
the archive treats an identical duplicate as already stored.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from server.dimse.spool import Spool, Spooled
from server.services.outcome import OUT_OF_RESOURCES, PROCESSING_FAILURE
from workbench.dicomweb.client import HttpArchiveClient
from workbench.dicomweb.client_base import StoreResult
from workbench.errors import WorkbenchError

log = logging.getLogger("workbench.drive")
TRANSIENT = frozenset({OUT_OF_RESOURCES, PROCESSING_FAILURE})
MAX_UNANSWERED = 5  # attempts before an instance the archive never mentions is given up


class RetryLater(Exception):
    """Sending must wait: the remote archive is unreachable or answered an error."""


@dataclass
class Progress:
    """What the forwarder is doing, for the status endpoint and the CLI."""

    sending: str | None = None
    sending_done: int = 0
    sending_total: int = 0
    sent_studies: int = 0
    sent_instances: int = 0
    last_error: str = ""
    retry_at: float | None = None
    attempts: dict[str, int] = field(default_factory=dict)


class Forwarder:
    """Send ready studies from ``spool`` to the archive at ``url``.

    Parameters
    ----------
    spool
        Where received instances wait.
    url
        The remote archive's DICOMweb root.
    token
        Bearer token for the remote archive (a source's upload key).
    idle_s
        Seconds without a new instance after which a study is sent.
    batch_bytes
        Largest STOW-RS request.
    retry_max_s
        Longest backoff between attempts.
    client
        The STOW-RS client to use (tests); default: :class:`HttpArchiveClient`.
    """

    def __init__(self, spool: Spool, url: str, *, token: str | None = None,
                 idle_s: float = 30.0, batch_bytes: int = 32 * 1024**2,
                 retry_max_s: float = 300.0,
                 client: Callable[[], HttpArchiveClient] | None = None) -> None:
        self.spool = spool
        self.url = url
        self.idle_s = idle_s
        self.batch_bytes = batch_bytes
        self.retry_max_s = retry_max_s
        self._client = client or (lambda: HttpArchiveClient(url, token=token, timeout=120))
        self.progress = Progress()
        self._stop = threading.Event()
        self._backoff = 1.0
        self._thread = threading.Thread(target=self._loop, name="forwarder", daemon=True)

    def start(self) -> None:
        """Start the sending thread."""
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the request in progress."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        with self._client() as client:
            while not self._stop.is_set():
                if not self.run_once(client):
                    self._stop.wait(0.2)

    def run_once(self, client: HttpArchiveClient) -> bool:
        """Send every ready study once; return whether anything was attempted."""
        now = time.time()
        if self.progress.retry_at is not None and now < self.progress.retry_at:
            return False
        ready = self.spool.ready(self.idle_s, now)
        for study in ready:
            if self._stop.is_set():
                break
            try:
                self.send_study(client, study)
            except RetryLater as exc:
                self.progress.last_error = str(exc)
                self.progress.retry_at = time.time() + self._backoff
                log.warning("sending paused for %.0f s: %s", self._backoff, exc)
                self._backoff = min(self._backoff * 2, self.retry_max_s)
                return True
            finally:
                self.progress.sending = None
        if ready:
            self._backoff = 1.0
            self.progress.retry_at = None
        return bool(ready)

    def _batches(self, items: list[Spooled]) -> list[list[Spooled]]:
        batches: list[list[Spooled]] = [[]]
        size = 0
        for item in items:
            length = item.stamp[2]
            if batches[-1] and size + length > self.batch_bytes:
                batches.append([])
                size = 0
            batches[-1].append(item)
            size += length
        return [b for b in batches if b]

    def send_study(self, client: HttpArchiveClient, study: str) -> None:
        """Send one study's spooled instances.

        Raises
        ------
        RetryLater
            The archive could not take them now; what it confirmed is already removed.
        """
        items = self.spool.instances(study)
        progress = self.progress
        progress.sending, progress.sending_done, progress.sending_total = study, 0, len(items)
        sent = 0
        try:
            for batch in self._batches(items):
                try:
                    payload = [item.path.read_bytes() for item in batch]
                except FileNotFoundError:  # replaced meanwhile: the next round sends it
                    continue
                try:
                    result = client.store_instances(payload)
                except WorkbenchError as exc:
                    raise RetryLater(f"{type(exc).__name__}: {exc}") from exc
                confirmed, transient = self._settle(batch, result)
                sent += confirmed
                progress.sending_done += len(batch)
                if transient is not None:
                    raise RetryLater(f"the archive could not store every instance now: "
                                     f"{transient}")
                progress.last_error = ""
        finally:
            if sent:
                self.spool.record_sent(study, sent)
                progress.sent_studies += 1
                progress.sent_instances += sent
                log.info("sent %d instance(s) of study %s", sent, study)

    def _settle(self, batch: list[Spooled], result: StoreResult) -> tuple[int, str | None]:
        """Remove what the archive has; move what it refused for good.

        Returns how many it has, and the reason to try again later (None: nothing left).
        """
        stored = set(result.stored)
        failed = {uid: (code, text) for uid, code, text in result.failed if uid}
        transient = None
        done = 0
        for item in batch:
            if item.sop_uid in stored:
                self.spool.done(item)
                self.progress.attempts.pop(item.sop_uid, None)
                done += 1
            elif item.sop_uid in failed and failed[item.sop_uid][0] not in TRANSIENT:
                code, text = failed[item.sop_uid]
                self.spool.fail(item, f"{code:04X}: {text}")
                log.warning("the archive refused instance %s: %04X", item.sop_uid, code)
            else:
                tries = self.progress.attempts.get(item.sop_uid, 0) + 1
                self.progress.attempts[item.sop_uid] = tries
                if item.sop_uid not in failed and tries >= MAX_UNANSWERED:
                    self.spool.fail(item, "the archive never confirmed nor refused it")
                    continue
                transient = failed.get(item.sop_uid, (0, "not confirmed"))[1]
        return done, transient

    def status(self) -> dict[str, Any]:
        """What is spooled, sending, sent and failed (and why), as JSON-ready data."""
        p = self.progress
        studies, instances = self.spool.sent_totals()
        waiting = self.spool.waiting()
        return {
            "remote": self.url,
            "idle_s": self.idle_s,
            "spooled": [{"study": s, "instances": n, "bytes": b, "idle_for_s": round(t, 1)}
                        for s, (n, b, t) in waiting.items()],
            "sending": None if p.sending is None else {
                "study": p.sending, "done": p.sending_done, "total": p.sending_total},
            "sent": {"studies": studies, "instances": instances,
                     "since_start": {"studies": p.sent_studies, "instances": p.sent_instances}},
            "failed": self.spool.failures(),
            "last_error": p.last_error,
            "retry_in_s": None if p.retry_at is None else max(0.0, round(
                p.retry_at - time.time(), 1)),
        }


def summary(status: dict[str, Any]) -> str:
    """One line of :meth:`Forwarder.status` for the terminal."""
    spooled = status["spooled"]
    line = (f"spooled {len(spooled)} stud(ies) / {sum(s['instances'] for s in spooled)} "
            f"instance(s); sent {status['sent']['studies']} / {status['sent']['instances']}; "
            f"failed {len(status['failed'])}")
    sending = status["sending"]
    if sending:
        line += f"; sending {sending['study']} {sending['done']}/{sending['total']}"
    if status["retry_in_s"] is not None:
        line += f"; retry in {status['retry_in_s']:.0f} s ({status['last_error'][:120]})"
    return line
