"""The query/retrieve handlers (PS3.4 Annex C): C-FIND, C-MOVE and C-GET for a caller.

Every request first checks the caller's permission (a source with ``can_retrieve``, of an
account that is open), then runs within what the caller's account sees
(:mod:`server.dimse.find`, :mod:`server.dimse.retrieve`). C-MOVE sends only to a
destination registered as a source of the caller's account. Each request is audited:
one event per search, one per study retrieved.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import evt
from pynetdicom.association import Association
from pynetdicom.presentation import build_context
from sqlalchemy import Engine

from server.auth.permissions import Action, check
from server.dimse import find, retrieve
from server.dimse.callers import Caller, SourceDirectory, clean_title
from server.dimse.contexts import (
    FIND_MODELS,
    PATIENT_ROOT_RETRIEVE,
    Verification,
    contexts_for,
    on_connection_open,
)
from server.services.audit import AuditEvent
from server.services.outcome import CANNOT_UNDERSTAND, NOT_AUTHORIZED, PROCESSING_FAILURE
from server.storage.local import LocalBlobStore
from workbench.errors import PermissionDeniedError, QueryError

log = logging.getLogger("workbench.dimse")
PENDING = 0xFF00
CANCELLED = 0xFE00


def status(code: int, comment: str = "") -> Dataset:
    """A status dataset with an Error Comment (LO, at most 64 characters)."""
    ds = Dataset()
    ds.Status = code
    if comment:
        ds.ErrorComment = comment.replace("\\", "/")[:64]
    return ds


@dataclass
class QueryRetrieve:
    """C-FIND, C-MOVE and C-GET over the archive's index and blobs.

    Parameters
    ----------
    engine
        The index.
    store
        The blob store.
    directory
        Resolves C-MOVE destinations.
    title
        Our AE title (Retrieve AE Title in C-FIND answers).
    max_results
        Most C-FIND matches returned (the QIDO-RS limit).
    record
        Appends an audit event.
    """

    engine: Engine
    store: LocalBlobStore
    directory: SourceDirectory
    title: str
    max_results: int
    record: Callable[[AuditEvent], None]

    def _audit(self, event: evt.Event, caller: Caller, action: str, resource: str,
               study: str = "") -> None:
        account = caller.principal.account_pk if caller.principal else None
        self.record(AuditEvent(action, caller.label, "ok", resource=resource,
                               study_uid=study[:64], account_pk=account,
                               actor_account_pk=account,
                               remote=str(event.assoc.requestor.address)))

    def find(self, event: evt.Event, caller: Caller | None
             ) -> Iterator[tuple[int | Dataset, Dataset | None]]:
        """``EVT_C_FIND``: pending matches, then pynetdicom sends the final success."""
        if caller is None or caller.principal is None:
            yield status(NOT_AUTHORIZED, "association not accepted"), None
            return
        model = FIND_MODELS.get(str(event.request.AffectedSOPClassUID), "study")
        try:
            check(caller.principal, Action.STUDY_READ)
            identifier = event.identifier
            level = find.query_level(identifier, model)
            with self.engine.connect() as conn:
                matches = list(find.search(conn, identifier, model, caller.principal,
                                           retrieve_ae=self.title,
                                           max_results=self.max_results))
        except PermissionDeniedError as exc:
            yield status(NOT_AUTHORIZED, str(exc)), None
            return
        except QueryError as exc:
            yield status(CANNOT_UNDERSTAND, str(exc)), None
            return
        except Exception as exc:
            log.exception("C-FIND failed")
            yield status(PROCESSING_FAILURE, type(exc).__name__), None
            return
        self._audit(event, caller, "search",
                    f"C-FIND {model} root, {level} level, {len(matches)} match(es)")
        for match in matches:
            if event.is_cancelled:
                yield CANCELLED, None
                return
            yield PENDING, match

    def _select(self, event: evt.Event, caller: Caller | None
                ) -> list[retrieve.Match] | Dataset:
        """The instances to send, or the failure status to answer."""
        if caller is None or caller.principal is None:
            return status(NOT_AUTHORIZED, "association not accepted")
        sop_class = str(event.request.AffectedSOPClassUID)
        model = "patient" if sop_class in PATIENT_ROOT_RETRIEVE else "study"
        try:
            check(caller.principal, Action.STUDY_READ)
            with self.engine.connect() as conn:
                return retrieve.select_instances(conn, event.identifier, model,
                                                 caller.principal)
        except PermissionDeniedError as exc:
            return status(NOT_AUTHORIZED, str(exc))
        except QueryError as exc:
            return status(CANNOT_UNDERSTAND, str(exc))
        except Exception as exc:
            log.exception("C-MOVE/C-GET selection failed")
            return status(PROCESSING_FAILURE, type(exc).__name__)

    def move(self, event: evt.Event, caller: Caller | None) -> Iterator[Any]:
        """``EVT_C_MOVE``: destination, number of sub-operations, then the instances."""
        title = clean_title(event.move_destination or b"")
        destination = self.directory.destination(caller, title) if caller else None
        if destination is None:
            log.warning("C-MOVE to unknown destination %r", title)
            yield None, None  # A801: move destination unknown
            return
        selected = self._select(event, caller)
        if isinstance(selected, Dataset):
            # pynetdicom wants the destination first and associates before any status:
            # a Verification-only association lets the refusal go out with its own status
            yield destination.host, destination.port, {
                "contexts": [build_context(Verification)],
                "evt_handlers": [(evt.EVT_CONN_OPEN, on_connection_open)]}
            yield 1
            yield selected, None
            return
        assert caller is not None
        holder: dict[str, Association] = {}

        def established(sub: evt.Event) -> None:
            holder["assoc"] = sub.assoc

        contexts = contexts_for((m.sop_class_uid, m.transfer_syntax) for m in selected)
        yield destination.host, destination.port, {
            "contexts": contexts, "evt_handlers": [(evt.EVT_CONN_OPEN, on_connection_open),
                                                   (evt.EVT_ESTABLISHED, established)]}
        yield len(selected)
        yield from self._send(event, caller, selected, lambda: holder.get("assoc"),
                              f"C-MOVE to {title}")

    def get(self, event: evt.Event, caller: Caller | None) -> Iterator[Any]:
        """``EVT_C_GET``: number of sub-operations, then the instances, on this association."""
        selected = self._select(event, caller)
        if isinstance(selected, Dataset):
            yield 1
            yield selected, None
            return
        assert caller is not None
        yield len(selected)
        yield from self._send(event, caller, selected, lambda: event.assoc, "C-GET")

    def _send(self, event: evt.Event, caller: Caller, selected: list[retrieve.Match],
              receiver: Callable[[], Association | None], what: str
              ) -> Iterator[tuple[int, Dataset | None]]:
        """Yield the pending (status, dataset) pairs of the sub-operations."""
        for study, count in retrieve.by_study(selected).items():
            self._audit(event, caller, "download", f"{what}, {count} instance(s)", study)
        for match in selected:
            if event.is_cancelled:
                yield CANCELLED, None
                return
            assoc = receiver()
            try:
                ds = retrieve.dataset_for(self.store, match,
                                          assoc.accepted_contexts if assoc else [])
            except Exception as exc:
                log.warning("%s: instance %s cannot be sent: %s", what, match.sop_uid,
                            type(exc).__name__)
                ds = Dataset()
                ds.SOPInstanceUID = match.sop_uid  # pynetdicom counts a failed sub-operation
            yield PENDING, ds
