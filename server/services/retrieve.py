"""Finding stored instances and turning them into WADO-RS payloads.

Fast paths read only what is needed: a native frame is one ranged read at the Pixel
Data offset recorded at ingest; metadata is the JSON built at ingest, concatenated.
Everything else (transcoding, compressed frames, rendering) reads the file with pydicom
and uses the shared functions of :mod:`workbench.dicom.frames` and
:mod:`workbench.imaging.render`.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import UID, ExplicitVRLittleEndian
from sqlalchemy import Connection, select

from server.db.models import instances, series, studies
from server.storage.local import LocalBlobStore
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


def find_instances(conn: Connection, study: str, series_uid: str | None = None,
                   sop: str | None = None) -> list[InstanceRef]:
    """Instances of a study, series or one instance, in series then instance order.

    Raises
    ------
    NotFoundError
        Nothing matches; the message names what was asked for.
    """
    stmt = (
        select(
            instances.c.pk, studies.c.study_uid, series.c.series_uid, instances.c.sop_uid,
            instances.c.sop_class_uid, instances.c.transfer_syntax, instances.c.blob,
            instances.c.pixel_offset, instances.c.rows, instances.c.columns,
            instances.c.bits_allocated, instances.c.frames, instances.c.size,
        )
        .join(series, instances.c.series_pk == series.c.pk)
        .join(studies, instances.c.study_pk == studies.c.pk)
        .where(studies.c.study_uid == study)
        .order_by(series.c.series_number, series.c.pk, instances.c.instance_number,
                  instances.c.pk)
    )
    if series_uid is not None:
        stmt = stmt.where(series.c.series_uid == series_uid)
    if sop is not None:
        stmt = stmt.where(instances.c.sop_uid == sop)
    refs = [InstanceRef(*row) for row in conn.execute(stmt)]  # type: ignore[misc,call-arg]
    if not refs:
        raise NotFoundError(f"no {_describe(study, series_uid, sop)} is stored")
    return refs


def metadata_json(conn: Connection, base_url: str, study: str, series_uid: str | None = None,
                  sop: str | None = None) -> bytes:
    """The DICOM JSON array of the instances' metadata, with absolute BulkDataURIs."""
    stmt = (
        select(instances.c.metadata_json)
        .join(series, instances.c.series_pk == series.c.pk)
        .join(studies, instances.c.study_pk == studies.c.pk)
        .where(studies.c.study_uid == study)
        .order_by(series.c.series_number, series.c.pk, instances.c.instance_number,
                  instances.c.pk)
    )
    if series_uid is not None:
        stmt = stmt.where(series.c.series_uid == series_uid)
    if sop is not None:
        stmt = stmt.where(instances.c.sop_uid == sop)
    blobs = conn.execute(stmt).scalars().all()
    if not blobs:
        raise NotFoundError(f"no {_describe(study, series_uid, sop)} is stored")
    joined = b"[" + b",".join(blobs) + b"]"
    return joined.replace(BULKDATA_PLACEHOLDER.encode(), base_url.encode())


def read_dataset(store: LocalBlobStore, ref: InstanceRef) -> Dataset:
    """The whole stored instance, parsed."""
    return pydicom.dcmread(io.BytesIO(store.read(ref.blob)))


def instance_bytes(store: LocalBlobStore, ref: InstanceRef, transfer_syntax: str
                   ) -> Iterator[bytes]:
    """The instance in ``transfer_syntax``: the stored bytes or a transcoded copy.

    A native stored instance asked for in Explicit VR Little Endian is transcoded only
    when its syntax differs. Unsupported transcoding raises
    :class:`~workbench.errors.UnsupportedTransferSyntaxError`.
    """
    if transfer_syntax == ref.transfer_syntax or transfer_syntax == "*":
        yield from store.iter_chunks(ref.blob)
        return
    if transfer_syntax != ExplicitVRLittleEndian:
        raise NotAcceptableError(
            f"instance {ref.sop_uid} is stored as {ref.transfer_syntax}; transcoding to "
            f"{transfer_syntax} is not offered (ask for transfer-syntax=* or "
            f"{ExplicitVRLittleEndian})"
        )
    out = io.BytesIO()
    with producing(f"an {ExplicitVRLittleEndian} copy", ref):
        ds = dicom_frames.to_explicit_little_endian(read_dataset(store, ref))
        ds.save_as(out, enforce_file_format=True)
    yield out.getvalue()


def _native_layout(store: LocalBlobStore, ref: InstanceRef) -> tuple[int, int] | None:
    """(start of pixel values, bytes per frame) for a native instance, else None."""
    if (ref.transfer_syntax not in NATIVE or ref.pixel_offset is None or not ref.rows
            or not ref.columns or ref.bits_allocated not in (8, 16, 32, 64)
            or ref.transfer_syntax == "1.2.840.10008.1.2.2"):
        return None
    head = store.read_range(ref.blob, ref.pixel_offset, 12)
    if head[:4] != b"\xe0\x7f\x10\x00":
        return None
    if ref.transfer_syntax == "1.2.840.10008.1.2":
        length, start = struct.unpack("<I", head[4:8])[0], 8
    else:
        length, start = struct.unpack("<I", head[8:12])[0], 12
    frames = ref.frames or 1
    per_sample = ref.rows * ref.columns * (ref.bits_allocated // 8)
    samples = round(length / (frames * per_sample)) if per_sample else 0
    if samples not in (1, 3) or per_sample * samples * frames > length:
        return None
    return ref.pixel_offset + start, per_sample * samples


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


def frame_payload(store: LocalBlobStore, ref: InstanceRef, number: int, native: bool
                  ) -> bytes:
    """One frame (1-based): native pixels, or the stored (compressed) bitstream.

    Raises
    ------
    NotFoundError
        The frame number is outside 1..NumberOfFrames.
    """
    count = ref.frames or 1
    if ref.pixel_offset is None:
        raise InvalidDicomError(f"instance {ref.sop_uid} has no Pixel Data")
    if not 1 <= number <= count:
        raise NotFoundError(
            f"frame {number} does not exist: instance {ref.sop_uid} has frames 1..{count}")
    layout = _native_layout(store, ref)
    if layout is not None:
        start, per_frame = layout
        return store.read_range(ref.blob, start + (number - 1) * per_frame, per_frame)
    ds = read_dataset(store, ref)
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


def is_native(transfer_syntax: str) -> bool:
    """Whether a transfer syntax stores pixels uncompressed."""
    return transfer_syntax in NATIVE or UID(transfer_syntax) == "1.2.840.10008.1.2.1.99"
