"""Finding stored instances and turning them into WADO-RS payloads.

Fast paths read only what is needed: a native frame is one ranged read at the Pixel
Data offset recorded at ingest (from the page cache without blocking, when it is there;
reads go through the store's :class:`~server.storage.readers.BlobReader`: ``pread`` on a
local file, ranged GETs on an object store);
rendering a native grey-scale frame parses only the header and reads that frame; stored
files are sent by :func:`gather`, several per buffer; metadata is the JSON built at ingest,
concatenated. Everything else (transcoding, compressed frames, colour rendering) reads
the file with pydicom and uses the shared functions of :mod:`workbench.dicom.frames` and
:mod:`workbench.imaging.render`. Index lookups use statements built once.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian
from sqlalchemy import Connection, Select, bindparam, select

from server.db.models import instances, series, studies
from server.storage.local import LocalBlobStore
from server.storage.readers import BlobReader
from workbench.dicom import frames as dicom_frames
from workbench.dicom.json_model import BULKDATA_PLACEHOLDER
from workbench.dicomweb.media import media_type_for_transfer_syntax
from workbench.errors import (
    InvalidDicomError,
    NotAcceptableError,
    NotFoundError,
    UnsupportedTransferSyntaxError,
    WorkbenchError,
)

NATIVE = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"})


@dataclass(frozen=True)
class InstanceRef:
    """What the index knows about where and how an instance is stored."""

    pk: int
    study_uid: str
    series_uid: str
    sop_uid: str
    sop_class_uid: str
    transfer_syntax: str
    blob: str
    pixel_offset: int | None
    rows: int | None
    columns: int | None
    bits_allocated: int | None
    frames: int | None
    size: int


def _describe(study: str, series_uid: str | None, sop: str | None) -> str:
    if sop is not None:
        return f"instance {sop} of series {series_uid} in study {study}"
    if series_uid is not None:
        return f"series {series_uid} of study {study}"
    return f"study {study}"


def _matching(columns: Any, series_given: bool, sop_given: bool) -> Select[Any]:
    """``columns`` of the instances of a study (and series, and instance), in order."""
    stmt = (
        select(*columns)
        .join(series, instances.c.series_pk == series.c.pk)
        .join(studies, instances.c.study_pk == studies.c.pk)
        .where(studies.c.study_uid == bindparam("b_study"))
        .order_by(series.c.series_number, series.c.pk, instances.c.instance_number,
                  instances.c.pk)
    )
    if series_given:
        stmt = stmt.where(series.c.series_uid == bindparam("b_series"))
    if sop_given:
        stmt = stmt.where(instances.c.sop_uid == bindparam("b_sop"))
    return stmt


# Statements built once, by (series given, instance given): building a SQLAlchemy select
# per request cost several times what executing it does (about 0.35 of 0.4 ms).
_REF_COLUMNS = (
    instances.c.pk, studies.c.study_uid, series.c.series_uid, instances.c.sop_uid,
    instances.c.sop_class_uid, instances.c.transfer_syntax, instances.c.blob,
    instances.c.pixel_offset, instances.c.rows, instances.c.columns,
    instances.c.bits_allocated, instances.c.frames, instances.c.size,
)
_FIND_REFS = {(a, b): _matching(_REF_COLUMNS, a, b) for a in (False, True) for b in (False, True)}
_FIND_METADATA = {(a, b): _matching((instances.c.metadata_json,), a, b)
                  for a in (False, True) for b in (False, True)}


def _parameters(study: str, series_uid: str | None, sop: str | None) -> dict[str, str]:
    values = {"b_study": study}
    if series_uid is not None:
        values["b_series"] = series_uid
    if sop is not None:
        values["b_sop"] = sop
    return values


_SQLITE_TEXT: dict[int, tuple[str, tuple[str, ...]]] = {}


def _rows(conn: Connection, stmt: Select[Any], values: dict[str, str]) -> list[Any]:
    """The rows of a prebuilt select, as plain tuples.

    On SQLite the statement's SQL, compiled once, goes straight to the driver: the
    SQLAlchemy execution around it (transaction begin and reset, result processing) cost
    several times the query (about 90 of 120 microseconds), a large share of a frame
    request. A lone SELECT runs in its own read transaction (the driver autocommits),
    so it sees one consistent state of the index. Other databases use SQLAlchemy.
    """
    if conn.dialect.name != "sqlite" or conn.dialect.paramstyle != "qmark":
        return list(conn.execute(stmt, values).tuples())
    compiled = _SQLITE_TEXT.get(id(stmt))
    if compiled is None:
        text = stmt.compile(dialect=conn.dialect)
        compiled = _SQLITE_TEXT[id(stmt)] = (str(text), tuple(text.positiontup or ()))
    sql, names = compiled
    rows: list[Any] = conn.connection.driver_connection.execute(  # type: ignore[union-attr]
        sql, [values[name] for name in names]).fetchall()
    return rows


def find_instances(conn: Connection, study: str, series_uid: str | None = None,
                   sop: str | None = None) -> list[InstanceRef]:
    """Instances of a study, series or one instance, in series then instance order.

    Raises
    ------
    NotFoundError
        Nothing matches; the message names what was asked for.
    """
    stmt = _FIND_REFS[series_uid is not None, sop is not None]
    refs = [InstanceRef(*row) for row in _rows(conn, stmt, _parameters(study, series_uid, sop))]
    if not refs:
        raise NotFoundError(f"no {_describe(study, series_uid, sop)} is stored")
    return refs


def metadata_json(conn: Connection, base_url: str, study: str, series_uid: str | None = None,
                  sop: str | None = None) -> bytes:
    """The DICOM JSON array of the instances' metadata, with absolute BulkDataURIs."""
    stmt = _FIND_METADATA[series_uid is not None, sop is not None]
    blobs = [row[0] for row in _rows(conn, stmt, _parameters(study, series_uid, sop))]
    if not blobs:
        raise NotFoundError(f"no {_describe(study, series_uid, sop)} is stored")
    joined = b"[" + b",".join(blobs) + b"]"
    return joined.replace(BULKDATA_PLACEHOLDER.encode(), base_url.encode())


def read_dataset(store: LocalBlobStore, ref: InstanceRef) -> Dataset:
    """The whole stored instance, parsed."""
    return pydicom.dcmread(io.BytesIO(store.read(ref.blob)))


Decoded = tuple[npt.NDArray[Any], str]


def read_for_rendering(store: LocalBlobStore, ref: InstanceRef, number: int
                       ) -> tuple[Dataset, Decoded | None]:
    """What rendering frame `number` (1-based) needs: a dataset, and the decoded frame
    when reading it took less than the whole file (else None: decode it from the dataset).

    For a native grey-scale image (by far the most common case) only the header, up to
    the Pixel Data offset recorded at ingest, is parsed and the one frame is read into
    its own array: the whole file, Pixel Data parsed into the dataset and the decoded
    copy made three copies of every frame, and cost half of a rendering.

    Raises
    ------
    NotFoundError
        The frame number is outside 1..NumberOfFrames.
    """
    _check_frames(ref, [number])
    if not _maybe_native(ref) or ref.pixel_offset is None:
        return read_dataset(store, ref), None
    with store.open_reader(ref.blob) as blob:
        head = _pread_exactly(blob, ref.pixel_offset + 12, 0)
        layout = _layout(ref, memoryview(head)[ref.pixel_offset:])
        if layout is not None:
            ds = pydicom.dcmread(io.BytesIO(head[:ref.pixel_offset]))
            grey = dicom_frames.grey_layout(ds)
            if grey is not None and grey.frame_bytes == layout[1]:
                buffer = np.empty(grey.frame_bytes, dtype=np.uint8).data
                _read_into(blob, buffer, layout[0] + (number - 1) * layout[1])
                return ds, (grey.values(buffer), str(ds.PhotometricInterpretation))
        data = _pread_exactly(blob, blob.size(), 0)
    return pydicom.dcmread(io.BytesIO(data)), None


def check_transcodable(ref: InstanceRef, transfer_syntax: str) -> None:
    """Raise :class:`~workbench.errors.NotAcceptableError` unless the instance can be sent
    in ``transfer_syntax`` (its own, ``*``, or Explicit VR Little Endian)."""
    if transfer_syntax in (ref.transfer_syntax, "*", ExplicitVRLittleEndian):
        return
    raise NotAcceptableError(
        f"instance {ref.sop_uid} is stored as {ref.transfer_syntax}; transcoding to "
        f"{transfer_syntax} is not offered (ask for transfer-syntax=* or "
        f"{ExplicitVRLittleEndian})"
    )


def transcoded_bytes(store: LocalBlobStore, ref: InstanceRef, transfer_syntax: str) -> bytes:
    """A copy of the instance in ``transfer_syntax`` (only Explicit VR Little Endian is
    offered; see :func:`check_transcodable`)."""
    check_transcodable(ref, transfer_syntax)
    out = io.BytesIO()
    with producing(f"an {ExplicitVRLittleEndian} copy", ref):
        ds = dicom_frames.to_explicit_little_endian(read_dataset(store, ref))
        ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def stored_size(store: LocalBlobStore, ref: InstanceRef) -> int:
    """Bytes of the stored file of an instance."""
    return store.size(ref.blob)


@dataclass(frozen=True)
class BlobSlice:
    """``length`` bytes from ``offset`` of a stored file that is ``size`` bytes long."""

    key: str
    offset: int
    length: int
    size: int


def gather(store: LocalBlobStore, pieces: Sequence[bytes | BlobSlice]) -> memoryview:
    """Literal bytes and slices of stored files, concatenated in one buffer.

    Each file is read straight into its place: no intermediate copy, and the buffer is
    not zeroed first (``bytearray(n)`` is: a tenth of the server's work for a series). A
    file whose size is no longer ``size`` raises
    :class:`~workbench.errors.InvalidDicomError`: the caller announced a length
    computed from it.
    """
    total = sum(len(p) if isinstance(p, bytes) else p.length for p in pieces)
    view = np.empty(total, dtype=np.uint8).data
    position = 0
    for piece in pieces:
        if isinstance(piece, bytes):
            view[position:position + len(piece)] = piece
            position += len(piece)
            continue
        with store.open_reader(piece.key) as blob:
            _read_into(blob, view[position:position + piece.length], piece.offset)
            if blob.size() != piece.size:  # after the read: an object store knows it then
                raise InvalidDicomError(f"stored file {piece.key} changed while being sent")
        position += piece.length
    return view


def _maybe_native(ref: InstanceRef) -> bool:
    """Whether the index says the frames may be ranged reads (see :func:`_native_layout`)."""
    return (ref.transfer_syntax in NATIVE and ref.pixel_offset is not None
            and bool(ref.rows) and bool(ref.columns) and ref.bits_allocated in (8, 16, 32, 64)
            and ref.transfer_syntax != "1.2.840.10008.1.2.2")


def _layout(ref: InstanceRef, head: bytes | memoryview) -> tuple[int, int] | None:
    """(start of pixel values, bytes per frame) from the 12 bytes at the Pixel Data offset."""
    if len(head) < 12 or head[:4] != b"\xe0\x7f\x10\x00" or ref.pixel_offset is None:
        return None
    if ref.transfer_syntax == "1.2.840.10008.1.2":
        length, start = struct.unpack_from("<I", head, 4)[0], 8
    else:
        length, start = struct.unpack_from("<I", head, 8)[0], 12
    frames = ref.frames or 1
    per_sample = (ref.rows or 0) * (ref.columns or 0) * ((ref.bits_allocated or 0) // 8)
    samples = round(length / (frames * per_sample)) if per_sample else 0
    if samples not in (1, 3) or per_sample * samples * frames > length:
        return None
    return ref.pixel_offset + start, per_sample * samples


def _native_layout(blob: BlobReader, ref: InstanceRef) -> tuple[int, int] | None:
    """(start of pixel values, bytes per frame) for a native instance, else None.

    ``blob`` is open for reading; only the 12 bytes of the Pixel Data element header at
    the offset recorded at ingest are read.
    """
    if not _maybe_native(ref) or ref.pixel_offset is None:
        return None
    return _layout(ref, blob.pread(12, ref.pixel_offset))


def _pread_exactly(blob: BlobReader, length: int, offset: int) -> bytes:
    """``length`` bytes of ``blob`` from ``offset``; a short file means it changed under us."""
    data = blob.pread(length, offset)
    if len(data) == length:
        return data
    buffer = bytearray(length)
    _read_into(blob, memoryview(buffer), offset)
    return bytes(buffer)


def _read_into(blob: BlobReader, view: memoryview, offset: int) -> None:
    """Fill ``view`` from ``blob`` at ``offset``."""
    done = 0
    while done < len(view):
        got = blob.readinto(view[done:], offset + done)
        if got <= 0:
            raise InvalidDicomError(
                f"stored file ended {len(view) - done} bytes early (at byte {offset + done})")
        done += got


@contextmanager
def producing(what: str, ref: InstanceRef) -> Iterator[None]:
    """Turn a failure to read or decode a stored instance into a 406 naming it.

    The instance was accepted (its header is sound) but its pixel data may still be
    unusable (an empty value, a codec no plugin handles); the client gets the reason,
    never a 500.
    """
    try:
        yield
    except WorkbenchError as exc:
        if isinstance(exc, NotFoundError | NotAcceptableError | UnsupportedTransferSyntaxError):
            raise
        raise NotAcceptableError(f"cannot produce {what} of instance {ref.sop_uid}: {exc}"
                                 ) from None
    except Exception as exc:
        raise NotAcceptableError(
            f"cannot produce {what} of instance {ref.sop_uid}: {type(exc).__name__}: {exc}"
        ) from None


def _check_frames(ref: InstanceRef, numbers: list[int]) -> None:
    if ref.pixel_offset is None:
        raise InvalidDicomError(f"instance {ref.sop_uid} has no Pixel Data")
    count = ref.frames or 1
    for number in numbers:
        if not 1 <= number <= count:
            raise NotFoundError(
                f"frame {number} does not exist: instance {ref.sop_uid} has frames 1..{count}")


def frame_payloads(store: LocalBlobStore, ref: InstanceRef, numbers: list[int], native: bool
                   ) -> list[bytes]:
    """Frames (1-based): native pixels, or the stored (compressed) bitstream of each.

    The file is opened once. Native frames are ranged reads at the Pixel Data offset
    recorded at ingest; anything else parses the file once, however many frames are
    asked for.

    Raises
    ------
    NotFoundError
        A frame number is outside 1..NumberOfFrames.
    """
    _check_frames(ref, numbers)
    with store.open_reader(ref.blob) as blob:
        layout = _native_layout(blob, ref)
        if layout is not None:
            start, per_frame = layout
            return [_pread_exactly(blob, per_frame, start + (n - 1) * per_frame)
                    for n in numbers]
        data = _pread_exactly(blob, blob.size(), 0)
    ds = pydicom.dcmread(io.BytesIO(data))
    return [_decoded_payload(ds, ref, number, native) for number in numbers]


CACHED_FRAMES_BYTES = 2 << 20
"""Most bytes :func:`cached_frame_payloads` reads: copied twice (from the page cache, into
the response) on the event loop, that is a few tenths of a millisecond at most."""

_NOWAIT: int | None = getattr(os, "RWF_NOWAIT", None)


def cached_frame_payloads(store: LocalBlobStore, ref: InstanceRef, numbers: list[int]
                          ) -> list[memoryview] | None:
    """Native frames (1-based) read only if they are in the page cache, else None.

    For a caller that must not block (the event loop): each read asks the kernel for
    data in memory only (``RWF_NOWAIT``). None, for :func:`frame_payloads` to do the
    work on a thread, when the instance is not native, the frames exceed
    :data:`CACHED_FRAMES_BYTES`, any byte would have to come from the disk, or the
    platform cannot say (no ``RWF_NOWAIT``). What it returns equals what
    :func:`frame_payloads` returns.

    Raises
    ------
    NotFoundError
        A frame number is outside 1..NumberOfFrames.
    """
    _check_frames(ref, numbers)
    if _NOWAIT is None or not _maybe_native(ref) or ref.pixel_offset is None:
        return None
    local = store.local_path(ref.blob)  # an object store's cached copy, if any
    if local is None:
        return None
    try:
        fd = os.open(local, os.O_RDONLY)
    except OSError:
        return None  # the thread path reports it
    try:
        head = np.empty(12, dtype=np.uint8).data
        if os.preadv(fd, [head], ref.pixel_offset, _NOWAIT) != 12:
            return None
        layout = _layout(ref, head)
        if layout is None or layout[1] * len(numbers) > CACHED_FRAMES_BYTES:
            return None
        start, per_frame = layout
        payloads = []
        for number in numbers:
            view = np.empty(per_frame, dtype=np.uint8).data
            if os.preadv(fd, [view], start + (number - 1) * per_frame, _NOWAIT) != per_frame:
                return None  # partly cached (or short): the thread path reads it all
            payloads.append(view)
        return payloads
    except OSError:  # EAGAIN: not in memory; EOPNOTSUPP: file system cannot tell
        return None
    finally:
        os.close(fd)


def _decoded_payload(ds: Dataset, ref: InstanceRef, number: int, native: bool) -> bytes:
    if not native:
        with producing(f"frame {number}", ref):
            return dicom_frames.encoded_frame(ds, number)
    try:
        with producing(f"frame {number}", ref):
            return dicom_frames.native_frame(ds, number)
    except NotAcceptableError as exc:
        raise UnsupportedTransferSyntaxError(
            f"frame {number} of instance {ref.sop_uid} cannot be decoded from transfer syntax "
            f"{ref.transfer_syntax} ({exc}); ask for its stored media type "
            f"({media_type_for_transfer_syntax(ref.transfer_syntax)}) instead"
        ) from None


def bulkdata_element(ds: Dataset, path: str) -> Any:
    """The element at a BulkDataURI tag path (``TTTTTTTT[/item/TTTTTTTT]...``)."""
    parts = [p for p in path.strip("/").split("/") if p]
    current: Any = ds
    element: Any = None
    try:
        for index, part in enumerate(parts):
            if index % 2 == 0:
                element = current[int(part, 16)]
            else:
                current = element.value[int(part)]
    except (KeyError, IndexError, ValueError):
        raise NotFoundError(f"no bulk data at {path!r}") from None
    if element is None or len(parts) % 2 == 0:
        raise NotFoundError(f"no bulk data at {path!r}")
    return element
