"""The ingest pipeline shared by STOW-RS, the demo loader and (later) the DIMSE listener.

For each received instance, :meth:`Ingestor.start` launches two tasks at once:

* on an I/O thread, the bytes are written under a fresh blob name and made durable
  (``fdatasync`` of the file, ``fsync`` of its folder);
* on a CPU thread, the header is parsed once (``stop_before_pixels``), validated, hashed,
  turned into DICOM JSON and into the index rows.

:meth:`Ingestor.finish` waits for both, hands the valid ones to the index writer (one
transaction per batch, shared by concurrent requests), removes the blobs that ended up
unreferenced (failures, identical copies, superseded versions) and returns one
:class:`Outcome` per instance. Only instances whose blob and row are both durable are
reported as stored. "Instance stored" events are written in the same transaction as
the rows (one job per transaction, ``EventBus.emit_in``) and handled after the commit.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine

from server.services.events import INSTANCE_STORED, EventBus
from server.services.indexer import IndexWriter, Inspected
from server.services.outcome import (
    CANNOT_UNDERSTAND,
    DOES_NOT_MATCH_SOP_CLASS,
    OUT_OF_RESOURCES,
    PROCESSING_FAILURE,
    Outcome,
)
from server.services.placement import Placement
from server.storage.local import LocalBlobStore
from workbench.dicom.json_model import BULKDATA_PLACEHOLDER, dataset_to_json, json_bytes
from workbench.dicom.read import (
    ParsedInstance,
    complete_header,
    parse_instance,
    probe_header,
    with_preamble,
)
from workbench.errors import InvalidDicomError

__all__ = ["Ingestor", "Outcome", "Pending"]


@dataclass
class Pending:
    """An instance being written (the future gives its SHA-256) and inspected."""

    key: str
    blob: Future[str]
    inspection: Future[Inspected | Outcome]
    placement: Placement = field(default_factory=Placement)


MEMORY_PART_BYTES = 4 << 20  # parts up to this size are held, then written at once
HEAD_KEEP = 65536  # first bytes of a part kept in memory (the header, for most instances)
TAIL_KEEP = 65536  # last bytes kept (where an encapsulated value's delimiter is)


@dataclass(frozen=True)
class PartSummary:
    """What is kept in memory of a received part: its first and last bytes, its size."""

    head: bytes
    size: int
    tail: bytes

    @property
    def whole(self) -> bool:
        """Whether ``head`` is the entire part."""
        return len(self.head) == self.size


class PartBuffer:
    """One multipart part as it arrives.

    A part stays in memory while it is small (up to ``MEMORY_PART_BYTES``, what most
    instances are): when it ends it is written and inspected like any instance held in
    memory (:meth:`Ingestor.start`), two thread hand-offs in all. A larger part streams:
    each received chunk goes, in order, to the blob file and the running SHA-256 on the
    part's I/O lane thread, so the event loop only parses the multipart framing and when
    the part ends only the sync remains. Then only the first and last 64 KiB stay in
    memory; once the first 64 KiB are in, the header is parsed on a CPU thread while the
    rest still arrives, and a part whose header does not fit is parsed from its file.
    """

    def __init__(self, ingestor: Ingestor, placement: Placement) -> None:
        self.ingestor = ingestor
        self.placement = placement
        self.key = ingestor.store.new_key(tag=placement.tag)
        self.lane: ThreadPoolExecutor | None = None  # once the part streams to its file
        self.held: list[bytes] | None = []  # the part while it is small
        self.held_size = 0
        self.waiting = bytearray()  # until 132 bytes decide about the preamble
        self.begun = False
        self.head = bytearray()
        self.tail = b""
        self.size = 0
        self.fd: int | None = None
        self.sha = hashlib.sha256()
        self.error: OSError | None = None
        self.probe: Future[_Probe | None] | None = None

    def write(self, data: bytes) -> None:
        """Append received bytes."""
        if self.held is not None:
            self.held.append(data)
            self.held_size += len(data)
            if self.held_size <= MEMORY_PART_BYTES:
                return
            held, self.held = self.held, None  # too large: stream from here on
            self.lane = self.ingestor.lane()
            for chunk in held:
                self._receive(chunk)
            return
        self._receive(data)

    def _receive(self, data: bytes) -> None:
        if not self.begun:
            if self.waiting or len(data) < 132:
                self.waiting += data
                if len(self.waiting) < 132:
                    return
                data = bytes(self.waiting)
                self.waiting = bytearray()
            self.begun = True
            data = with_preamble(data)  # a part without preamble gets one
        self._append(data)

    def _append(self, chunk: bytes) -> None:
        if not chunk:
            return
        assert self.lane is not None
        self.lane.submit(self._store_chunk, chunk)
        self.size += len(chunk)
        if len(self.head) < HEAD_KEEP:
            self.head += chunk[: HEAD_KEEP - len(self.head)]
            if self.probe is None and len(self.head) >= HEAD_KEEP:
                self.probe = self.ingestor.probe(bytes(self.head))
        if len(chunk) >= TAIL_KEEP:
            self.tail = chunk[-TAIL_KEEP:]
        else:
            self.tail = (self.tail + chunk)[-TAIL_KEEP:]

    def _store_chunk(self, chunk: bytes) -> None:
        """On the lane thread: append to the blob file and to the hash."""
        if self.error is not None:
            return
        try:
            if self.fd is None:
                self.fd = self.ingestor.store.create(self.key)
            view = memoryview(chunk)
            while view:
                view = view[os.write(self.fd, view):]
        except OSError as exc:
            self.error = exc
            return
        self.sha.update(chunk)

    def _close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def _complete(self) -> str:
        """On the lane thread, after every chunk: close the file, give the hash."""
        if self.error is None and self.fd is None:  # an empty part: an empty blob
            try:
                self.fd = self.ingestor.store.create(self.key)
            except OSError as exc:
                self.error = exc
        self._close()
        if self.error is None:
            try:
                self.ingestor.store.complete(self.key)
            except OSError as exc:
                self.error = exc
        if self.error is not None:
            raise self.error
        return self.sha.hexdigest()

    def finish(self, expected_study: str | None) -> Pending:
        """The part is complete: have it inspected and indexed."""
        if self.held is not None:
            data = b"".join(self.held)
            self.held = None
            return self.ingestor.start(data, expected_study=expected_study,
                                       placement=self.placement, key=self.key)
        assert self.lane is not None
        if not self.begun:
            self.begun = True
            self._append(bytes(self.waiting))
        blob = self.lane.submit(self._complete)
        summary = PartSummary(bytes(self.head), self.size, self.tail)
        return self.ingestor.start_written(self.key, blob, summary,
                                           expected_study=expected_study, probe=self.probe,
                                           placement=self.placement)

    def abandon(self) -> None:
        """The request failed before the part was complete: remove what was written."""
        self.held = None
        if self.lane is None:
            return  # nothing was written
        self.lane.submit(self._close).result()
        self.ingestor.store.delete(self.key)


@dataclass
class _Probe:
    """A header parsed from the first bytes of a part, with its DICOM JSON."""

    parsed: ParsedInstance
    meta: dict[str, Any]
    metadata: bytes


def _value(meta: dict[str, Any], tag: str, limit: int = 324) -> str:
    """First value of a DICOM JSON attribute as text ('' when absent); PN as Alphabetic."""
    element = meta.get(tag)
    if not element:
        return ""
    values = element.get("Value")
    if not values:
        return ""
    parts = []
    for v in values:
        if isinstance(v, dict):
            parts.append(str(v.get("Alphabetic", "")))
        elif v is not None:
            parts.append(str(v))
    return "\\".join(parts)[:limit]


def _integer(meta: dict[str, Any], tag: str) -> int | None:
    element = meta.get(tag)
    values = element.get("Value") if element else None
    if not values or values[0] is None:
        return None
    try:
        return int(values[0])
    except (TypeError, ValueError):
        return None


def _rows(parsed: ParsedInstance, meta: dict[str, Any], sha: str, metadata: bytes
          ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Study, series and instance row values, read from the instance's DICOM JSON."""
    study = {
        "patient_name": _value(meta, "00100010"),
        "patient_id": _value(meta, "00100020", 64),
        "issuer": _value(meta, "00100021", 64),
        "birth_date": _value(meta, "00100030", 8),
        "sex": _value(meta, "00100040", 16),
        "study_date": _value(meta, "00080020", 8),
        "study_time": _value(meta, "00080030", 16),
        "accession": _value(meta, "00080050", 16),
        "study_id": _value(meta, "00200010", 16),
        "description": _value(meta, "00081030", 64),
        "referring_physician": _value(meta, "00080090"),
        "charset": _value(meta, "00080005", 128),
        "timezone_offset": _value(meta, "00080201", 16),
    }
    series = {
        "modality": _value(meta, "00080060", 16),
        "series_number": _integer(meta, "00200011"),
        "description": _value(meta, "0008103E", 64),
        "body_part": _value(meta, "00180015", 16),
        "pps_start_date": _value(meta, "00400244", 8),
        "pps_start_time": _value(meta, "00400245", 16),
    }
    instance = {
        "sop_uid": parsed.sop_uid,
        "sop_class_uid": parsed.sop_class_uid,
        "instance_number": _integer(meta, "00200013"),
        "transfer_syntax": parsed.transfer_syntax,
        "rows": _integer(meta, "00280010"),
        "columns": _integer(meta, "00280011"),
        "bits_allocated": _integer(meta, "00280100"),
        "frames": _integer(meta, "00280008"),
        "size": parsed.size,
        "sha256": sha,
        "pixel_offset": parsed.pixel_offset,
        "metadata_json": metadata,
    }
    return study, series, instance


def _stored(outcome: Outcome) -> dict[str, Any]:
    """The "instance stored" event of an indexed instance."""
    return {"study": outcome.study_uid, "series": outcome.series_uid,
            "instance": outcome.sop_uid, "sop_class": outcome.sop_class_uid,
            "modality": outcome.modality}


class Ingestor:
    """Store DICOM instances durably and index them.

    Parameters
    ----------
    engine
        The index database.
    store
        The blob store.
    events
        Receives ``INSTANCE_STORED`` after each commit.
    duplicates
        ``"reject"`` or ``"overwrite"`` for a known SOP Instance UID with new bytes.
    max_header_bytes
        Largest accepted header (everything before Pixel Data).
    threads
        Size of each of the two pools (I/O and CPU).
    """

    def __init__(self, engine: Engine, store: LocalBlobStore, events: EventBus, *,
                 duplicates: str = "reject", max_header_bytes: int | None = None,
                 threads: int = 4) -> None:
        self.store = store
        self.events = events
        self.max_header_bytes = max_header_bytes
        self.index = IndexWriter(engine, duplicates=duplicates, on_commit=self._record_events)
        self._io = ThreadPoolExecutor(threads, thread_name_prefix="ingest-io")
        self._lanes = [ThreadPoolExecutor(1, thread_name_prefix=f"ingest-lane{i}")
                       for i in range(threads)]
        self._next_lane = 0
        self._cpu = ThreadPoolExecutor(threads, thread_name_prefix="ingest-cpu")

    def probe(self, prefix: bytes) -> Future[_Probe | None]:
        """Parse a header from the first bytes of an instance, on a CPU thread."""
        return self._cpu.submit(self._probe, prefix)

    def _probe(self, prefix: bytes) -> _Probe | None:
        parsed = probe_header(prefix, max_header_bytes=self.max_header_bytes)
        if parsed is None:
            return None
        try:
            meta, metadata = self._json(parsed)
        except Exception:  # the whole file decides what the error is
            return None
        return _Probe(parsed, meta, metadata)

    def start(self, data: bytes, *, expected_study: str | None = None,
              placement: Placement | None = None, key: str | None = None) -> Pending:
        """Begin storing one instance held in memory (demo loader, CLI, tests).

        Parameters
        ----------
        data
            The Part 10 bytes (a missing preamble is added).
        expected_study
            The study UID of a ``POST /studies/{study}``: instances of another study fail.
        placement
            Where the instance belongs (default: the local account, trusted).
        key
            The blob key to write (default: a fresh one).
        """
        placement = placement or Placement()
        key = key or self.store.new_key(tag=placement.tag)
        data = with_preamble(data)
        blob = self._io.submit(self._write, key, data)
        inspection = self._cpu.submit(self._inspect, data, expected_study, None)
        return Pending(key, blob, inspection, placement)

    def lane(self) -> ThreadPoolExecutor:
        """A single-thread executor for one part's ordered writes (round robin)."""
        self._next_lane = (self._next_lane + 1) % len(self._lanes)
        return self._lanes[self._next_lane]

    def start_written(self, key: str, blob: Future[str], summary: PartSummary, *,
                      expected_study: str | None = None,
                      probe: Future[_Probe | None] | None = None,
                      placement: Placement | None = None) -> Pending:
        """Inspect an instance whose bytes are being written to blob ``key`` as they came.

        ``blob`` gives the SHA-256 once the file is complete (or raises OSError).
        """
        inspection = self._cpu.submit(self._inspect_part, key, blob, summary,
                                      expected_study, probe)
        return Pending(key, blob, inspection, placement or Placement())

    def _inspect_part(self, key: str, blob: Future[str], summary: PartSummary,
                      expected_study: str | None, probe: Future[_Probe | None] | None
                      ) -> Inspected | Outcome:
        probed = probe.result() if probe is not None else None
        if probed is not None:
            result = self._inspect_parsed(
                lambda: complete_header(probed.parsed, summary.head, summary.size,
                                        summary.tail), expected_study, probed)
            if isinstance(result, Inspected):
                return result
        elif summary.whole:
            return self._inspect(summary.head, expected_study, None)
        return self._inspect_file(key, blob, expected_study)  # the file decides

    def adopt(self, key: str) -> Pending:
        """Inspect a blob already on disk (start-up recovery of unreferenced blobs).

        It goes where its name says (:meth:`Placement.from_key`), as a trusted caller.
        """
        blob = self._io.submit(self._hash_blob, key)
        inspection = self._cpu.submit(self._inspect_file, key, blob, None)
        return Pending(key, blob, inspection, Placement.from_key(key))

    def _hash_blob(self, key: str) -> str:
        digest = hashlib.sha256()
        with open(self.store.path(key), "rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
        return digest.hexdigest()

    def _write(self, key: str, data: bytes) -> str:
        self.store.write_new(key, data)
        return hashlib.sha256(data).hexdigest()

    def finish(self, pending: Sequence[Pending]) -> list[Outcome]:
        """Wait for started instances, index the valid ones, report each one's outcome."""
        outcomes: list[Outcome | None] = []
        to_index: list[tuple[str, Inspected]] = []
        loose: list[str] = []
        written = []
        for item in pending:
            try:
                item.blob.result()
                written.append(item.key)
            except OSError:
                pass
        # durable as one batch, on an I/O thread, while inspections finish
        synced = self._io.submit(self.store.sync, written)
        for item in pending:
            inspected = item.inspection.result()
            try:
                sha = item.blob.result()
                synced.result()
                if isinstance(inspected, Inspected):
                    inspected.placement = item.placement
                    inspected.sha256 = sha
                    inspected.instance_row["sha256"] = sha
            except OSError as exc:
                loose.append(item.key)
                sop = inspected.parsed if isinstance(inspected, Inspected) else None
                outcomes.append(Outcome(
                    sop.sop_uid if sop else None, sop.sop_class_uid if sop else None,
                    failure=OUT_OF_RESOURCES, reason=f"cannot write the instance: {exc}"))
                continue
            if isinstance(inspected, Outcome):
                loose.append(item.key)
                outcomes.append(inspected)
            else:
                to_index.append((item.key, inspected))
                outcomes.append(None)
        try:
            committed = self.index.commit(to_index)
        except BaseException:
            for key, _ in to_index:
                self.store.delete(key)
            raise
        finally:
            for key in loose:
                self.store.delete(key)
        for key in committed.unreferenced:
            self.store.delete(key)
        indexed = iter(committed.outcomes)
        results = [o if o is not None else next(indexed) for o in outcomes]
        if self.events.durable:  # written with the rows (_record_events)
            self.events.notify()
        else:
            for outcome in committed.outcomes:
                if outcome.ok and not outcome.warning:
                    self.events.emit(INSTANCE_STORED, _stored(outcome))
        return results

    def _record_events(self, conn: Connection, outcomes: list[Outcome]) -> None:
        """In the index transaction: one durable "instance stored" job for its instances."""
        if self.events.durable:
            self.events.emit_in(conn, INSTANCE_STORED, [
                _stored(o) for o in outcomes if o.ok and not o.warning])

    def abandon(self, pending: Sequence[Pending]) -> None:
        """Forget started instances (the request failed): their blobs are removed."""
        for item in pending:
            try:
                item.blob.result()
            except OSError:
                pass
            item.inspection.result()
            self.store.delete(item.key)

    def store_bytes(self, data: bytes, *, expected_study: str | None = None,
                    placement: Placement | None = None) -> Outcome:
        """Store one instance and wait for its outcome."""
        return self.finish([self.start(data, expected_study=expected_study,
                                       placement=placement)])[0]

    def close(self) -> None:
        """Finish pending work and stop the threads."""
        self._cpu.shutdown(wait=True)
        for lane in self._lanes:
            lane.shutdown(wait=True)
        self._io.shutdown(wait=True)
        self.index.close()
        self.store.close()

    # -- inspection (CPU threads) ------------------------------------------------------
    def _inspect_file(self, key: str, blob: Future[str], expected_study: str | None
                      ) -> Inspected | Outcome:
        try:
            blob.result()
        except OSError as exc:
            return Outcome(None, None, failure=OUT_OF_RESOURCES,
                           reason=f"cannot write the instance: {exc}")
        path = self.store.path(key)
        with open(path, "rb") as fh:
            head = fh.read(132)
        if head[128:132] != b"DICM":
            return Outcome(None, None, failure=CANNOT_UNDERSTAND,
                           reason="not a DICOM Part 10 file: no 'DICM' marker at offset 128")
        with open(path, "rb") as fh:
            return self._inspect_parsed(lambda: parse_instance(
                fh, max_header_bytes=self.max_header_bytes), expected_study)

    def _inspect(self, data: bytes, expected_study: str | None,
                 probe: Future[_Probe | None] | None = None) -> Inspected | Outcome:
        probed = probe.result() if probe is not None else None
        if probed is not None:
            return self._inspect_parsed(
                lambda: complete_header(probed.parsed, data, len(data), data[-TAIL_KEEP:]),
                expected_study, probed)
        return self._inspect_parsed(
            lambda: parse_instance(data, max_header_bytes=self.max_header_bytes),
            expected_study)

    def _inspect_parsed(self, parse: Any, expected_study: str | None,
                        probed: _Probe | None = None) -> Inspected | Outcome:
        try:
            parsed: ParsedInstance = parse()
            return self._check(parsed, expected_study, probed)
        except InvalidDicomError as exc:
            return Outcome(exc.sop_uid, exc.sop_class_uid, failure=CANNOT_UNDERSTAND,
                           reason=str(exc))
        except Exception as exc:  # never a 500 for one odd instance: a failure with a reason
            return Outcome(None, None, failure=PROCESSING_FAILURE,
                           reason=f"cannot process the instance: {type(exc).__name__}: {exc}")

    def _json(self, parsed: ParsedInstance) -> tuple[dict[str, Any], bytes]:
        prefix = (f"{BULKDATA_PLACEHOLDER}/studies/{parsed.study_uid}/series/"
                  f"{parsed.series_uid}/instances/{parsed.sop_uid}/bulkdata")
        meta = dataset_to_json(parsed.dataset, bulkdata_prefix=prefix,
                               pixel_data=parsed.has_pixel_data)
        return meta, json_bytes(meta)

    def _check(self, parsed: ParsedInstance, expected_study: str | None,
               probed: _Probe | None) -> Inspected | Outcome:
        if expected_study is not None and parsed.study_uid != expected_study:
            return Outcome(
                parsed.sop_uid, parsed.sop_class_uid, parsed.study_uid, parsed.series_uid,
                failure=DOES_NOT_MATCH_SOP_CLASS,
                reason=(f"StudyInstanceUID {parsed.study_uid} differs from the study "
                        f"{expected_study} named in the request URL"),
            )
        if probed is not None:
            meta, metadata = probed.meta, probed.metadata
        else:
            try:
                meta, metadata = self._json(parsed)
            except Exception as exc:  # pydicom raises many types for odd values
                return Outcome(parsed.sop_uid, parsed.sop_class_uid,
                               failure=CANNOT_UNDERSTAND,
                               reason=f"header cannot be converted to DICOM JSON: {exc}")
        study, series, instance = _rows(parsed, meta, "", metadata)
        return Inspected(parsed, "", study, series, instance)
