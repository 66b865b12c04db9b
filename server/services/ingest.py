"""The ingest pipeline shared by STOW-RS, the CLI and (later) the DIMSE listener.

Per instance, on a worker thread (:meth:`Ingestor.prepare`): parse the header once
(``stop_before_pixels``), validate, hash, build the DICOM JSON, write the blob to a
temporary file next to its final place and fsync it. Per batch, on the single writer
thread (:meth:`Ingestor.commit`): decide duplicates, rename blobs into place, fsync
their folders, insert or update index rows in one transaction, and only then report
success. Batches from concurrent requests that wait for the writer are committed
together (group commit). Events run after the commit.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from queue import Queue
from typing import Any

from pydicom.dataset import Dataset
from sqlalchemy import Engine, delete, insert, select, update

from server.db.models import instances, patient_conflicts, patients, series, studies
from server.services.events import INSTANCE_STORED, EventBus
from server.storage.local import LocalBlobStore
from workbench.dicom.json_model import BULKDATA_PLACEHOLDER, dataset_to_json_bytes
from workbench.dicom.read import ParsedInstance, integer, parse_instance, text, with_preamble
from workbench.errors import InvalidDicomError

# Failure reasons (PS3.4 Annex B C-STORE status, used by STOW-RS FailedSOPSequence).
OUT_OF_RESOURCES = 0xA700
DOES_NOT_MATCH_SOP_CLASS = 0xA900
CANNOT_UNDERSTAND = 0xC000
PROCESSING_FAILURE = 0x0110
DUPLICATE_SOP_INSTANCE = 0x0111


@dataclass(frozen=True)
class Outcome:
    """What happened to one received instance.

    ``failure`` is None on success; otherwise a PS3.4 status code, and ``reason`` says
    in words what was wrong. ``warning`` marks successes worth telling (a duplicate).
    """

    sop_uid: str | None
    sop_class_uid: str | None
    study_uid: str | None = None
    series_uid: str | None = None
    failure: int | None = None
    reason: str = ""
    warning: str = ""

    @property
    def ok(self) -> bool:
        """Whether the instance is stored (now or before)."""
        return self.failure is None


@dataclass
class Prepared:
    """A parsed, validated instance whose blob is written to a temporary file."""

    parsed: ParsedInstance
    sha256: str
    key: str
    path: Path
    metadata: bytes
    study_row: dict[str, Any]
    series_row: dict[str, Any]
    instance_row: dict[str, Any]


@dataclass
class _Batch:
    items: list[Prepared]
    future: Future[list[Outcome]] = field(default_factory=Future)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _study_values(ds: Dataset) -> dict[str, Any]:
    return {
        "patient_name": text(ds, "PatientName"),
        "patient_id": text(ds, "PatientID", 64),
        "issuer": text(ds, "IssuerOfPatientID", 64),
        "birth_date": text(ds, "PatientBirthDate", 8),
        "sex": text(ds, "PatientSex", 16),
        "study_date": text(ds, "StudyDate", 8),
        "study_time": text(ds, "StudyTime", 16),
        "accession": text(ds, "AccessionNumber", 16),
        "study_id": text(ds, "StudyID", 16),
        "description": text(ds, "StudyDescription", 64),
        "referring_physician": text(ds, "ReferringPhysicianName"),
        "charset": text(ds, "SpecificCharacterSet", 128),
        "timezone_offset": text(ds, "TimezoneOffsetFromUTC", 16),
    }


def _series_values(ds: Dataset) -> dict[str, Any]:
    return {
        "modality": text(ds, "Modality", 16),
        "series_number": integer(ds, "SeriesNumber"),
        "description": text(ds, "SeriesDescription", 64),
        "body_part": text(ds, "BodyPartExamined", 16),
        "pps_start_date": text(ds, "PerformedProcedureStepStartDate", 8),
        "pps_start_time": text(ds, "PerformedProcedureStepStartTime", 16),
    }


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
    """

    def __init__(
        self,
        engine: Engine,
        store: LocalBlobStore,
        events: EventBus,
        *,
        duplicates: str = "reject",
        max_header_bytes: int | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.events = events
        self.duplicates = duplicates
        self.max_header_bytes = max_header_bytes
        self._queue: Queue[_Batch | None] = Queue()
        self._writer = threading.Thread(target=self._write_loop, name="ingest-writer", daemon=True)
        self._writer.start()

    # -- per instance, any thread -------------------------------------------------------
    def prepare(
        self, data: bytes | memoryview | Path, *, expected_study: str | None = None
    ) -> Prepared | Outcome:
        """Parse, validate and write one instance to a temporary file.

        Parameters
        ----------
        data
            The Part 10 bytes, or a spooled file holding them (moved, not copied).
        expected_study
            The study UID of a ``POST /studies/{study}``: instances of another study fail.

        Returns
        -------
        Prepared or Outcome
            An Outcome only for a failure; nothing is left on disk then.
        """
        try:
            return self._prepare(data, expected_study)
        except Exception as exc:  # never a 500 for one odd instance: a failure with a reason
            if isinstance(data, Path):
                self.store.discard(data)
            return Outcome(None, None, failure=PROCESSING_FAILURE,
                           reason=f"cannot process the instance: {type(exc).__name__}: {exc}")

    def _prepare(self, data: bytes | memoryview | Path, expected_study: str | None
                 ) -> Prepared | Outcome:
        try:
            if isinstance(data, Path):
                with open(data, "rb") as fh:
                    parsed = parse_instance(fh, max_header_bytes=self.max_header_bytes)
                digest = hashlib.sha256()
                with open(data, "rb") as fh:
                    while block := fh.read(1 << 20):
                        digest.update(block)
                sha = digest.hexdigest()
            else:
                data = with_preamble(bytes(data))
                parsed = parse_instance(data, max_header_bytes=self.max_header_bytes)
                sha = hashlib.sha256(data).hexdigest()
        except InvalidDicomError as exc:
            if isinstance(data, Path):
                self.store.discard(data)
            return Outcome(exc.sop_uid, exc.sop_class_uid, failure=CANNOT_UNDERSTAND,
                           reason=str(exc))
        if expected_study is not None and parsed.study_uid != expected_study:
            if isinstance(data, Path):
                self.store.discard(data)
            return Outcome(
                parsed.sop_uid,
                parsed.sop_class_uid,
                parsed.study_uid,
                parsed.series_uid,
                failure=DOES_NOT_MATCH_SOP_CLASS,
                reason=(
                    f"StudyInstanceUID {parsed.study_uid} differs from the study "
                    f"{expected_study} named in the request URL"
                ),
            )
        ds = parsed.dataset
        prefix = (
            f"{BULKDATA_PLACEHOLDER}/studies/{parsed.study_uid}/series/{parsed.series_uid}"
            f"/instances/{parsed.sop_uid}/bulkdata"
        )
        try:
            metadata = dataset_to_json_bytes(
                ds, bulkdata_prefix=prefix, pixel_data=parsed.has_pixel_data
            )
        except Exception as exc:  # pydicom raises many types for odd values
            if isinstance(data, Path):
                self.store.discard(data)
            return Outcome(
                parsed.sop_uid,
                parsed.sop_class_uid,
                failure=CANNOT_UNDERSTAND,
                reason=f"header cannot be converted to DICOM JSON: {exc}",
            )
        key = self.store.key_for(parsed.study_uid, parsed.sop_uid, sha)
        try:
            # Durable under its final, content-addressed name before the index knows it:
            # a crash before the commit leaves a harmless unreferenced file.
            if isinstance(data, Path):
                path = self.store.adopt_durable(key, data)
            else:
                path = self.store.write_durable(key, data)
        except OSError as exc:
            return Outcome(
                parsed.sop_uid,
                parsed.sop_class_uid,
                failure=OUT_OF_RESOURCES,
                reason=f"cannot write the instance: {exc.strerror}",
            )
        return Prepared(
            parsed=parsed,
            sha256=sha,
            key=key,
            path=path,
            metadata=metadata,
            study_row=_study_values(ds),
            series_row=_series_values(ds),
            instance_row={
                "sop_uid": parsed.sop_uid,
                "sop_class_uid": parsed.sop_class_uid,
                "instance_number": integer(ds, "InstanceNumber"),
                "transfer_syntax": parsed.transfer_syntax,
                "rows": integer(ds, "Rows"),
                "columns": integer(ds, "Columns"),
                "bits_allocated": integer(ds, "BitsAllocated"),
                "frames": integer(ds, "NumberOfFrames"),
                "size": parsed.size,
                "sha256": sha,
                "blob": key,
                "pixel_offset": parsed.pixel_offset,
                "metadata_json": metadata,
            },
        )

    def discard(self, items: Sequence[Prepared]) -> None:
        """Remove the blobs of prepared instances that will not be committed.

        A blob that an index row references (the same bytes were stored before) stays.
        """
        keys = [item.key for item in items]
        if not keys:
            return
        with self.engine.connect() as conn:
            referenced = set(
                conn.execute(select(instances.c.blob).where(instances.c.blob.in_(keys))).scalars()
            )
        for key in keys:
            if key not in referenced:
                self.store.delete(key)

    # -- per batch, one writer ---------------------------------------------------------
    def commit(self, items: Sequence[Prepared]) -> list[Outcome]:
        """Make prepared instances durable and indexed; blocks until committed."""
        if not items:
            return []
        batch = _Batch(list(items))
        self._queue.put(batch)
        return batch.future.result()

    def store_bytes(self, data: bytes, *, expected_study: str | None = None) -> Outcome:
        """Prepare and commit one instance (CLI, tests, DIMSE)."""
        prepared = self.prepare(data, expected_study=expected_study)
        if isinstance(prepared, Outcome):
            return prepared
        return self.commit([prepared])[0]

    def close(self) -> None:
        """Stop the writer thread after pending batches."""
        self._queue.put(None)
        self._writer.join(timeout=30)

    def _write_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batches = [first]
            stop = False
            while not self._queue.empty() and len(batches) < 64:
                nxt = self._queue.get_nowait()
                if nxt is None:
                    stop = True
                    break
                batches.append(nxt)
            try:
                results = self._write([item for b in batches for item in b.items])
            except Exception as exc:
                for b in batches:
                    self.discard(b.items)
                    b.future.set_exception(exc)
            else:
                pos = 0
                for b in batches:
                    b.future.set_result(results[pos : pos + len(b.items)])
                    pos += len(b.items)
            if stop:
                return

    def _write(self, items: list[Prepared]) -> list[Outcome]:
        now = _now()
        outcomes: list[Outcome] = []
        unwanted: list[str] = []  # blobs of this batch that no row will reference
        superseded: list[str] = []
        try:
            with self.engine.begin() as conn:
                study_pks: dict[str, int] = {}
                series_pks: dict[str, tuple[int, int]] = {}
                seen: dict[str, str] = {}
                for item in items:
                    outcome = self._write_one(conn, item, now, study_pks, series_pks, seen,
                                              superseded)
                    if not outcome.ok:  # its content-addressed blob is nobody's
                        unwanted.append(item.key)
                    outcomes.append(outcome)
        except BaseException:
            self.discard(items)
            raise
        for key in unwanted + superseded:
            self.store.delete(key)
        for outcome in outcomes:
            if outcome.ok and not outcome.warning:
                self.events.emit(
                    INSTANCE_STORED,
                    {"study": outcome.study_uid, "series": outcome.series_uid,
                     "instance": outcome.sop_uid},
                )
        return outcomes

    def _write_one(self, conn: Any, item: Prepared, now: datetime, study_pks: dict[str, int],
                   series_pks: dict[str, tuple[int, int]], seen: dict[str, str],
                   superseded: list[str]) -> Outcome:
        """Index one prepared instance inside the batch transaction."""
        p = item.parsed
        if p.sop_uid in seen:
            return self._duplicate_outcome(p, seen[p.sop_uid] == item.key)
        row = conn.execute(
            select(instances.c.pk, instances.c.sha256, instances.c.blob,
                   instances.c.series_pk, instances.c.study_pk)
            .where(instances.c.sop_uid == p.sop_uid)
        ).first()
        if row is not None and row.sha256 == item.sha256:
            return self._duplicate_outcome(p, True)
        if row is not None and self.duplicates != "overwrite":
            return self._duplicate_outcome(p, False)
        study_pk = study_pks.get(p.study_uid) or self._study_pk(conn, item, now)
        study_pks[p.study_uid] = study_pk
        if p.series_uid not in series_pks:
            series_pks[p.series_uid] = self._series_pk(conn, item, study_pk, now)
        series_pk, owner = series_pks[p.series_uid]
        if owner != study_pk:
            return Outcome(
                p.sop_uid, p.sop_class_uid, p.study_uid, p.series_uid,
                failure=DOES_NOT_MATCH_SOP_CLASS,
                reason=(f"SeriesInstanceUID {p.series_uid} already belongs to another study "
                        f"than {p.study_uid}"),
            )
        values = dict(item.instance_row, blob=item.key, series_pk=series_pk, study_pk=study_pk)
        if row is None:
            conn.execute(insert(instances).values(created_at=now, **values))
            conn.execute(
                update(series).where(series.c.pk == series_pk)
                .values(num_instances=series.c.num_instances + 1)
            )
            conn.execute(
                update(studies).where(studies.c.pk == study_pk).values(
                    num_instances=studies.c.num_instances + 1,
                    size_bytes=studies.c.size_bytes + p.size,
                    updated_at=now,
                )
            )
        else:
            conn.execute(update(instances).where(instances.c.pk == row.pk).values(**values))
            self._recount(conn, {row.series_pk, series_pk}, {row.study_pk, study_pk})
            if row.blob != item.key:
                superseded.append(row.blob)
        seen[p.sop_uid] = item.key
        return Outcome(p.sop_uid, p.sop_class_uid, p.study_uid, p.series_uid)

    def _duplicate_outcome(self, p: ParsedInstance, same: bool) -> Outcome:
        if same:
            return Outcome(p.sop_uid, p.sop_class_uid, p.study_uid, p.series_uid,
                           warning="already stored with identical content")
        return Outcome(
            p.sop_uid, p.sop_class_uid, p.study_uid, p.series_uid,
            failure=DUPLICATE_SOP_INSTANCE,
            reason=(f"SOPInstanceUID {p.sop_uid} is already stored with different content "
                    "(duplicates are rejected by configuration)"),
        )

    def _study_pk(self, conn: Any, item: Prepared, now: datetime) -> int:
        p = item.parsed
        pk = conn.execute(select(studies.c.pk).where(studies.c.study_uid == p.study_uid)).scalar()
        if pk is not None:
            return int(pk)
        values = item.study_row
        patient_pk = self._patient_pk(conn, values, p.study_uid, now)
        return int(
            conn.execute(
                insert(studies).values(
                    study_uid=p.study_uid, patient_pk=patient_pk, created_at=now,
                    updated_at=now, **values,
                )
            ).inserted_primary_key[0]
        )

    def _patient_pk(self, conn: Any, values: dict[str, Any], study_uid: str, now: datetime
                    ) -> int:
        row = conn.execute(
            select(patients).where(
                patients.c.patient_id == values["patient_id"],
                patients.c.issuer == values["issuer"],
            )
        ).first()
        if row is None:
            return int(
                conn.execute(
                    insert(patients).values(
                        patient_id=values["patient_id"], issuer=values["issuer"],
                        name=values["patient_name"], birth_date=values["birth_date"],
                        sex=values["sex"], created_at=now,
                    )
                ).inserted_primary_key[0]
            )
        for attribute, column, received in (
            ("PatientName", "name", values["patient_name"]),
            ("PatientBirthDate", "birth_date", values["birth_date"]),
            ("PatientSex", "sex", values["sex"]),
        ):
            expected = getattr(row, column)
            if expected and received and expected.upper() != received.upper():
                conn.execute(
                    insert(patient_conflicts).values(
                        patient_pk=row.pk, study_uid=study_uid, attribute=attribute,
                        expected=expected, received=received, created_at=now,
                    )
                )
        return int(row.pk)

    def _series_pk(self, conn: Any, item: Prepared, study_pk: int, now: datetime
                   ) -> tuple[int, int]:
        """(series pk, pk of the study it belongs to), inserting a new series."""
        p = item.parsed
        row = conn.execute(
            select(series.c.pk, series.c.study_pk).where(series.c.series_uid == p.series_uid)
        ).first()
        if row is not None:
            return int(row.pk), int(row.study_pk)
        pk = conn.execute(
            insert(series).values(
                series_uid=p.series_uid, study_pk=study_pk, created_at=now, **item.series_row
            )
        ).inserted_primary_key[0]
        conn.execute(
            update(studies).where(studies.c.pk == study_pk)
            .values(num_series=studies.c.num_series + 1)
        )
        return int(pk), study_pk

    @staticmethod
    def _recount(conn: Any, series_pks: set[int], study_pks: set[int]) -> None:
        from sqlalchemy import func

        for pk in series_pks:
            n = conn.execute(
                select(func.count()).select_from(instances).where(instances.c.series_pk == pk)
            ).scalar()
            conn.execute(update(series).where(series.c.pk == pk).values(num_instances=n))
        for pk in study_pks:
            n = conn.execute(
                select(func.count()).select_from(instances).where(instances.c.study_pk == pk)
            ).scalar()
            size = conn.execute(
                select(func.coalesce(func.sum(instances.c.size), 0))
                .where(instances.c.study_pk == pk)
            ).scalar()
            ns = conn.execute(
                select(func.count()).select_from(series).where(series.c.study_pk == pk)
            ).scalar()
            conn.execute(
                update(studies).where(studies.c.pk == pk)
                .values(num_instances=n, size_bytes=size, num_series=ns)
            )
        conn.execute(delete(series).where(series.c.num_instances == 0))
