"""The DIMSE listener: association control, C-ECHO and C-STORE (query/retrieve in
:mod:`server.dimse.qr`).

Every association is checked when it is requested (``EVT_REQUESTED``): the called AE
title must be ours (unless configured otherwise) and the calling AE title must pass the
gate (registered sources for the archive, :class:`~server.dimse.callers.SourceDirectory`;
a configured list for the forwarder). A refused association gets an A-ASSOCIATE-RJ with
the PS3.8 reason and an audit entry naming the cause. TCP_NODELAY is set on every
association socket, accepted and requested (C-MOVE) alike. pynetdicom serves each
association on its own thread; several run at once.

Logs name AE titles, addresses, statuses and UIDs, never patient attributes.
"""

from __future__ import annotations

import logging
import socket
import socketserver
import threading
from io import BytesIO
from typing import Any, cast
from weakref import WeakKeyDictionary

from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom.association import Association
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.transport import ThreadedAssociationServer

from server.dimse.callers import (
    CALLED_AE_UNKNOWN,
    REJECT_PERMANENT,
    SOURCE_SERVICE_USER,
    AllowList,
    Caller,
    Rejection,
    SourceDirectory,
    clean_title,
)
from server.dimse.contexts import on_connection_open
from server.dimse.part10 import part10
from server.dimse.qr import QueryRetrieve, status
from server.dimse.store import StoreSink
from server.services.audit import AuditEvent, AuditLog
from server.services.outcome import CANNOT_UNDERSTAND, NOT_AUTHORIZED

log = logging.getLogger("workbench.dimse")


class Listener:
    """Serve DIMSE associations on one port.

    Parameters
    ----------
    ae
        The application entity (:func:`server.dimse.contexts.make_ae`).
    gate
        Decides who may associate.
    sink
        Keeps what C-STORE receives.
    check_called
        Reject associations whose called AE title is not ``ae.ae_title``.
    audit
        The audit trail (None for the forwarder, which has no index).
    query
        The C-FIND/C-MOVE/C-GET handlers, or None (the forwarder only stores).
    """

    def __init__(self, ae: AE, gate: SourceDirectory | AllowList, sink: StoreSink, *,
                 check_called: bool = True, audit: AuditLog | None = None,
                 query: QueryRetrieve | None = None) -> None:
        self.ae = ae
        self.gate = gate
        self.sink = sink
        self.check_called = check_called
        self.audit = audit
        self.query = query
        self._callers: WeakKeyDictionary[Association, Caller] = WeakKeyDictionary()
        self._audited: WeakKeyDictionary[Association, set[str]] = WeakKeyDictionary()
        self._lock = threading.Lock()
        self.server: ThreadedAssociationServer | None = None

    @property
    def title(self) -> str:
        """Our AE title."""
        return clean_title(self.ae.ae_title)

    def handlers(self) -> list[tuple[Any, Any]]:
        """The event handlers bound to the server."""
        bound: list[tuple[Any, Any]] = [
            (evt.EVT_CONN_OPEN, on_connection_open), (evt.EVT_REQUESTED, self._requested),
            (evt.EVT_C_ECHO, lambda _event: 0x0000), (evt.EVT_C_STORE, self._store)]
        query = self.query
        if query is not None:
            bound += [(evt.EVT_C_FIND, lambda e: query.find(e, self._caller(e))),
                      (evt.EVT_C_MOVE, lambda e: query.move(e, self._caller(e))),
                      (evt.EVT_C_GET, lambda e: query.get(e, self._caller(e)))]
        return bound

    def start(self, host: str, port: int, *, shared: bool = False) -> int:
        """Start serving in background threads; return the port bound.

        With ``shared`` the port is bound with ``SO_REUSEPORT``, so that several listener
        processes accept on one port and the kernel spreads associations over them.
        """
        handlers: Any = self.handlers()
        server: ThreadedAssociationServer | None
        if shared:
            server = self.ae.make_server((host, port), evt_handlers=handlers,
                                         server_class=_SharedPortServer)
            threading.Thread(target=server.serve_forever, name=f"dimse-accept-{port}",
                             daemon=True).start()
        else:
            server = self.ae.start_server((host, port), block=False, evt_handlers=handlers)
        assert server is not None
        self.server = server
        bound = int(server.server_address[1])
        log.info("DIMSE listener %s on %s:%d", self.title, host, bound)
        return bound

    def stop(self) -> None:
        """Stop accepting and close the server socket."""
        if self.server is not None:
            self.server.shutdown()
            self.server = None

    # -- association control ------------------------------------------------------------
    def _requested(self, event: evt.Event) -> None:
        assoc = event.assoc
        request = assoc.requestor.primitive
        assert request is not None
        calling = clean_title(request.calling_ae_title)
        called = clean_title(request.called_ae_title)
        remote = str(assoc.requestor.address)
        if self.check_called and called != self.title:
            decided: Caller | Rejection = Rejection(
                CALLED_AE_UNKNOWN, f"called AE title {called!r} is not {self.title!r}")
        else:
            decided = self.gate.caller(calling)
        if isinstance(decided, Caller):
            self._callers[assoc] = decided
            return
        log.warning("association from %s (%s) rejected: %s", calling, remote, decided.detail)
        assoc.acse.send_reject(REJECT_PERMANENT, SOURCE_SERVICE_USER, decided.diagnostic)
        assoc.kill()  # waits until the A-ASSOCIATE-RJ is out, as pynetdicom's own rejections
        self.record(AuditEvent("dimse-reject", f"ae:{calling}", "rejected",
                                resource=f"A-ASSOCIATE {calling} -> {called}",
                                account_pk=decided.account_pk, remote=remote,
                                detail=decided.detail))

    def record(self, event: AuditEvent) -> None:
        """Append an audit event (nothing for the forwarder)."""
        if self.audit is not None:
            self.audit.record(event)

    def _caller(self, event: evt.Event) -> Caller | None:
        return self._callers.get(event.assoc)

    def _audit_study(self, event: evt.Event, caller: Caller, action: str, study: str,
                     resource: str) -> None:
        """One audit event per association and study (not one per instance)."""
        key = f"{action}:{study}"
        with self._lock:
            seen = self._audited.setdefault(event.assoc, set())
            if key in seen:
                return
            seen.add(key)
        p = caller.principal
        self.record(AuditEvent(action, caller.label, "ok", resource=resource,
                                study_uid=study[:64], account_pk=p.account_pk if p else None,
                                actor_account_pk=p.account_pk if p else None,
                                remote=str(event.assoc.requestor.address)))

    # -- C-STORE ---------------------------------------------------------------------------
    def _store(self, event: evt.Event) -> Dataset | int:
        caller = self._caller(event)
        if caller is None:
            return status(NOT_AUTHORIZED, "association not accepted")
        request = cast(C_STORE, event.request)
        try:
            data = part10(cast(BytesIO, request.DataSet).getbuffer(),
                          str(request.AffectedSOPClassUID),
                          str(request.AffectedSOPInstanceUID),
                          str(event.context.transfer_syntax), caller.ae_title)
        except Exception:
            return status(CANNOT_UNDERSTAND, "unreadable C-STORE request")
        stored = self.sink.store(caller, data)
        if not stored.ok:
            log.warning("C-STORE from %s refused with %04X", caller.ae_title, stored.status)
            return status(stored.status, stored.reason)
        if stored.study_uid:
            self._audit_study(event, caller, "store", stored.study_uid, "C-STORE")
        return 0x0000


class _SharedPortServer(ThreadedAssociationServer):
    """An association server whose port other processes may bind too (``SO_REUSEPORT``)."""

    def server_bind(self) -> None:
        """Set ``SO_REUSEPORT``, then bind as pynetdicom does."""
        assert self.socket is not None
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()

    def shutdown(self) -> None:
        """Stop accepting and close the socket (not made by ``AE.start_server``, so not
        in the AE's own list of servers)."""
        socketserver.TCPServer.shutdown(self)
        self.server_close()
