"""Where C-STORE puts what it receives: the archive's ingest pipeline, or the spool.

Both answer with a PS3.4 Annex B status only once the instance is durable: success
(0000) after the blob and its index row are committed (the archive) or the file and its
folder are synced (the spool); otherwise a failure status with a short reason in
Error Comment (0000,0902), never a success.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from server.auth.permissions import Action, check
from server.dimse.callers import Caller
from server.dimse.spool import Spool
from server.services.ingest import Ingestor
from server.services.outcome import (
    CANNOT_UNDERSTAND,
    NOT_AUTHORIZED,
    OUT_OF_RESOURCES,
    PROCESSING_FAILURE,
)
from workbench.errors import InvalidDicomError, PermissionDeniedError

SUCCESS = 0x0000


@dataclass(frozen=True)
class Stored:
    """The answer to one C-STORE: status, reason in words (failures), and the study."""

    status: int
    reason: str = ""
    study_uid: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the instance is stored (now or before)."""
        return self.status == SUCCESS


class StoreSink(Protocol):
    """Something that keeps received instances durably."""

    def store(self, caller: Caller, data: bytes) -> Stored:
        """Keep one instance (Part 10 bytes with file meta); return the C-STORE answer."""


class ArchiveSink:
    """C-STORE into the archive through the STOW-RS ingest pipeline.

    Same validation, duplicate handling, durability and "instance stored" events as
    STOW-RS; the instance goes into the calling source's account (and team).

    Parameters
    ----------
    ingestor
        The archive's ingest pipeline.
    max_instance_bytes
        Largest instance accepted (out of resources, A700, beyond).
    """

    def __init__(self, ingestor: Ingestor, max_instance_bytes: int) -> None:
        self.ingestor = ingestor
        self.max_instance_bytes = max_instance_bytes

    def store(self, caller: Caller, data: bytes) -> Stored:
        """Store one instance and wait until its blob and row are durable."""
        if caller.principal is None:
            return Stored(NOT_AUTHORIZED, "the caller is not a registered source")
        try:
            check(caller.principal, Action.STUDY_STORE)
        except PermissionDeniedError as exc:
            return Stored(NOT_AUTHORIZED, str(exc))
        if len(data) > self.max_instance_bytes:
            return Stored(OUT_OF_RESOURCES, f"instance of {len(data)} bytes exceeds the "
                                            f"limit of {self.max_instance_bytes} bytes")
        try:
            outcome = self.ingestor.store_bytes(data, placement=caller.placement)
        except OSError as exc:
            return Stored(OUT_OF_RESOURCES, f"cannot store the instance: {exc.strerror}")
        except InvalidDicomError as exc:
            return Stored(CANNOT_UNDERSTAND, str(exc))
        except Exception as exc:  # never a success, never a dead association
            return Stored(PROCESSING_FAILURE, f"cannot process: {type(exc).__name__}")
        if outcome.ok:
            return Stored(SUCCESS, outcome.warning, outcome.study_uid)
        return Stored(outcome.failure or PROCESSING_FAILURE, outcome.reason, outcome.study_uid)


class SpoolSink:
    """C-STORE into the forwarder's spool (``server/dimse/spool.py``).

    Parameters
    ----------
    spool
        The spool.
    max_instance_bytes
        Largest instance accepted (out of resources, A700, beyond).
    """

    def __init__(self, spool: Spool, max_instance_bytes: int) -> None:
        self.spool = spool
        self.max_instance_bytes = max_instance_bytes

    def store(self, caller: Caller, data: bytes) -> Stored:
        """Write one instance durably into the spool."""
        if len(data) > self.max_instance_bytes:
            return Stored(OUT_OF_RESOURCES, f"instance of {len(data)} bytes exceeds the "
                                            f"limit of {self.max_instance_bytes} bytes")
        try:
            study = self.spool.put(data)
        except (InvalidDicomError, ValueError) as exc:
            return Stored(CANNOT_UNDERSTAND, str(exc))
        except OSError as exc:
            return Stored(OUT_OF_RESOURCES, f"cannot spool the instance: {exc.strerror}")
        return Stored(SUCCESS, study_uid=study)
