"""The audit trail: every access to patient data and every administrative change.

Events are queued by request handlers (and by the audit middleware) and written by one
thread in batches, each batch in one write transaction that reads the last row's hash and
chains the new rows onto it. Several server processes share the chain safely because the
transaction takes SQLite's write lock first (``BEGIN IMMEDIATE``).

``hash = sha256(prev_hash + "\\x1e" + "\\x1f".join(fields))`` with the fields in
:data:`CHAINED` order; the first row chains onto :data:`GENESIS`. :func:`verify_chain`
recomputes the chain and names the first row that does not match: an edited, inserted
or deleted row anywhere shows.

Events from requests are written within milliseconds; a process killed in that moment
loses at most those events (never data). Administrative changes wait for their event to
be written (``record(..., wait=True)``).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from queue import Empty, Queue

from sqlalchemy import Connection, Engine, insert, select

from server.db.audit import audit_events
from server.db.engine import write_transaction

GENESIS = "0" * 64
LINGER_S = 0.02
"""How long the writer waits for more events before it writes a batch nobody waits on."""
REMOTE: ContextVar[str] = ContextVar("audit_remote", default="")
"""The client address of the request being served (set by the audit middleware)."""
CHAINED = ("at", "actor_user_pk", "actor_account_pk", "actor", "action", "resource",
           "study_uid", "account_pk", "remote", "outcome", "detail")


@dataclass(frozen=True)
class AuditEvent:
    """One thing that happened. ``account_pk`` is the account whose data was touched."""

    action: str
    actor: str
    outcome: str
    resource: str = ""
    study_uid: str = ""
    actor_user_pk: int | None = None
    actor_account_pk: int | None = None
    account_pk: int | None = None
    remote: str = ""
    detail: str = ""
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="microseconds"))


def chain_hash(prev_hash: str, row: dict[str, object]) -> str:
    """The hash of a row given its predecessor's hash."""
    text = "\x1f".join("" if row[name] is None else str(row[name]) for name in CHAINED)
    return hashlib.sha256(f"{prev_hash}\x1e{text}".encode()).hexdigest()


class AuditLog:
    """Queue audit events and append them to the chain on a background thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._queue: Queue[tuple[AuditEvent, Future[None] | None] | None] = Queue()
        self._thread = threading.Thread(target=self._loop, name="audit-writer", daemon=True)
        self._thread.start()

    def record(self, event: AuditEvent, *, wait: bool = False) -> None:
        """Append ``event``; with ``wait`` return only once it is committed."""
        done: Future[None] | None = Future() if wait else None
        if not event.remote:
            event = replace(event, remote=REMOTE.get())
        self._queue.put((event, done))
        if done is not None:
            done.result(timeout=30)

    def flush(self) -> None:
        """Wait until everything queued so far is written."""
        done: Future[None] = Future()
        self._queue.put((AuditEvent("flush", "", ""), done))
        done.result(timeout=30)

    def close(self) -> None:
        """Write what is queued and stop."""
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            # Linger a little for more events unless someone waits: one write transaction
            # per burst of requests, not per request (each one takes the index's write lock).
            deadline = time.monotonic() + (0.0 if first[1] is not None else LINGER_S)
            while len(batch) < 500:
                remaining = deadline - time.monotonic()
                try:
                    nxt = (self._queue.get(timeout=remaining) if remaining > 0
                           else self._queue.get_nowait())
                except Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
                if nxt[1] is not None:
                    deadline = 0.0
            events = [e for e, _ in batch if e.action != "flush"]
            try:
                if events:
                    self._append(events)
            except Exception as exc:  # the waiting caller learns; the thread lives on
                for _, done in batch:
                    if done is not None:
                        done.set_exception(exc)
            else:
                for _, done in batch:
                    if done is not None:
                        done.set_result(None)
            if stop:
                return

    def _append(self, events: list[AuditEvent]) -> None:
        with write_transaction(self.engine) as conn:
            prev = conn.execute(select(audit_events.c.hash)
                                .order_by(audit_events.c.pk.desc()).limit(1)).scalar()
            prev = prev or GENESIS
            rows = []
            for event in events:
                row: dict[str, object] = asdict(event)
                row["hash"] = chain_hash(prev, row)
                row["prev_hash"] = prev
                prev = str(row["hash"])
                rows.append(row)
            conn.execute(insert(audit_events), rows)


@dataclass(frozen=True)
class ChainReport:
    """What :func:`verify_chain` found."""

    rows: int
    first_bad_pk: int | None = None
    problem: str = ""

    @property
    def intact(self) -> bool:
        """Whether every row chains onto its predecessor."""
        return self.first_bad_pk is None


def _rows(conn: Connection, batch: int = 5000) -> Iterator[dict[str, object]]:
    last = 0
    while True:
        chunk = conn.execute(select(audit_events).where(audit_events.c.pk > last)
                             .order_by(audit_events.c.pk).limit(batch)).mappings().fetchall()
        if not chunk:
            return
        for row in chunk:
            yield dict(row)
        last = int(chunk[-1]["pk"])


def verify_chain(engine: Engine) -> ChainReport:
    """Recompute the hash chain of the whole audit trail."""
    prev = GENESIS
    count = 0
    with engine.connect() as conn:
        for row in _rows(conn):
            count += 1
            if row["prev_hash"] != prev:
                return ChainReport(count, int(str(row["pk"])),
                                   "its prev_hash is not the hash of the row before it "
                                   "(a row was removed or inserted)")
            if chain_hash(prev, row) != row["hash"]:
                return ChainReport(count, int(str(row["pk"])),
                                   "its content does not match its hash (the row was changed)")
            prev = str(row["hash"])
    return ChainReport(count)
