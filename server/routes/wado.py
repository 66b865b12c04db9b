"""WADO-RS (PS3.18 10.4): instances, metadata, frames and bulk data."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from server.deps import ServicesDep, StudyReader, dicomweb_base
from server.services import retrieve
from server.storage.local import LocalBlobStore
from workbench.dicomweb.media import (
    TRANSFER_SYNTAX_MEDIA_TYPES,
    choose_frame_media_type,
    choose_instance_transfer_syntax,
    parse_accept,
)
from workbench.dicomweb.multipart import multipart_chunks, multipart_content_type, new_boundary
from workbench.errors import NotFoundError, QueryError

router = APIRouter(tags=["WADO-RS"])
DICOM_JSON = "application/dicom+json"


# Stored files are sent in batches of about BATCH_BYTES, each read by one worker thread
# straight into one buffer with the part headers around it; the event loop sends a batch
# while the next one is read. A thread hop per piece (part header, file, CRLF) and
# zero-filled buffers had the server spend twice the CPU time on a series. A file larger
# than PIECE_BYTES is sent in pieces of that size, so a response holds a few batches in
# memory at most (the one being sent, the one being read), whatever the instances. The
# boundary is random (128 bits) and chosen after the files were stored, so no file can
# hold the delimiter: the bodies are not scanned for it.
BATCH_BYTES = 4 << 20
PIECE_BYTES = 8 << 20

Job = Callable[[], bytes | memoryview]


def _part_head(boundary: bytes, first: bool, content_type: str) -> bytes:
    """Delimiter and header block of a part (the CRLF before a delimiter included)."""
    delimiter = b"--" + boundary if first else b"\r\n--" + boundary
    return delimiter + b"\r\nContent-Type: " + content_type.encode("ascii") + b"\r\n\r\n"


def _retrieve(request: Request, services: ServicesDep, study: str, series: str | None,
              sop: str | None) -> Response:
    accept = parse_accept(request.headers.get("accept"))
    with services.engine.connect() as conn:
        refs = retrieve.find_instances(conn, study, series, sop)
    plans = [(ref, choose_instance_transfer_syntax(accept, ref.transfer_syntax)) for ref in refs]
    for ref, ts in plans:
        retrieve.check_transcodable(ref, ts)  # a 406 now rather than a broken stream later
    boundary = new_boundary()
    media_type = multipart_content_type(boundary, "application/dicom")
    store = services.store
    jobs: list[Job] = []
    batch: list[bytes | retrieve.BlobSlice] = []
    batch_bytes = 0
    length: int | None = 0  # None once a transcoded part makes it unknown in advance

    def flush() -> None:
        nonlocal batch, batch_bytes
        if batch:
            jobs.append(partial(retrieve.gather, store, batch))
        batch, batch_bytes = [], 0

    for index, (ref, ts) in enumerate(plans):
        actual = ref.transfer_syntax if ts == "*" else ts
        head = _part_head(boundary.encode("ascii"), index == 0,
                          f"application/dicom; transfer-syntax={actual}")
        if actual != ref.transfer_syntax:
            flush()
            length = None
            jobs.append(partial(_transcoded_part, store, ref, actual, head))
            continue
        size = retrieve.stored_size(store, ref)
        batch.append(head)
        batch_bytes += len(head)
        for offset in range(0, size, PIECE_BYTES):
            piece = retrieve.BlobSlice(ref.blob, offset, min(PIECE_BYTES, size - offset), size)
            if batch_bytes and batch_bytes + piece.length > BATCH_BYTES:
                flush()
            batch.append(piece)
            batch_bytes += piece.length
        if length is not None:
            length += len(head) + size
    closer = b"\r\n--" + boundary.encode("ascii") + b"--\r\n"
    batch.append(closer)
    flush()
    headers = None if length is None else {"Content-Length": str(length + len(closer))}
    return StreamingResponse(_run_jobs(jobs), media_type=media_type, headers=headers)


def _transcoded_part(store: LocalBlobStore, ref: retrieve.InstanceRef, ts: str, head: bytes
                     ) -> bytes:
    return head + retrieve.transcoded_bytes(store, ref, ts)


async def _run_jobs(jobs: list[Job]) -> AsyncIterator[bytes | memoryview]:
    """Each job's bytes, computed on a worker thread while the previous ones are sent."""
    for job in jobs:
        yield await anyio.to_thread.run_sync(job)


@router.get("/studies/{study}", summary="Retrieve a study")
def retrieve_study(study: str, request: Request, services: ServicesDep, _u: StudyReader
                   ) -> Response:
    """All instances of a study as multipart/related application/dicom."""
    return _retrieve(request, services, study, None, None)


@router.get("/studies/{study}/series/{series}", summary="Retrieve a series")
def retrieve_series(study: str, series: str, request: Request, services: ServicesDep,
                    _u: StudyReader) -> Response:
    """All instances of a series."""
    return _retrieve(request, services, study, series, None)


@router.get("/studies/{study}/series/{series}/instances/{sop}", summary="Retrieve an instance")
def retrieve_instance(study: str, series: str, sop: str, request: Request,
                      services: ServicesDep, _u: StudyReader) -> Response:
    """One instance."""
    return _retrieve(request, services, study, series, sop)


def _metadata(request: Request, services: ServicesDep, study: str, series: str | None,
              sop: str | None) -> Response:
    with services.engine.connect() as conn:
        body = retrieve.metadata_json(conn, dicomweb_base(request), study, series, sop)
    return Response(body, media_type=DICOM_JSON)


@router.get("/studies/{study}/metadata", summary="Study metadata")
def study_metadata(study: str, request: Request, services: ServicesDep, _u: StudyReader
                   ) -> Response:
    """DICOM JSON of every instance of a study, bulk data as BulkDataURIs."""
    return _metadata(request, services, study, None, None)


@router.get("/studies/{study}/series/{series}/metadata", summary="Series metadata")
def series_metadata(study: str, series: str, request: Request, services: ServicesDep,
                    _u: StudyReader) -> Response:
    """DICOM JSON of every instance of a series."""
    return _metadata(request, services, study, series, None)


@router.get("/studies/{study}/series/{series}/instances/{sop}/metadata",
            summary="Instance metadata")
def instance_metadata(study: str, series: str, sop: str, request: Request,
                      services: ServicesDep, _u: StudyReader) -> Response:
    """DICOM JSON of one instance."""
    return _metadata(request, services, study, series, sop)


def parse_frame_list(value: str) -> list[int]:
    """Frame numbers of a ``frames/{list}`` path segment (comma separated, 1-based)."""
    numbers = []
    for part in value.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise QueryError(f"frame list {value!r}: {part!r} is not a frame number (1, 2, ...)")
        numbers.append(int(part))
    return numbers


def _frames_choice(request: Request, ref: retrieve.InstanceRef) -> tuple[str, str, bool]:
    """(part media type, transfer syntax, native) negotiated from the Accept header."""
    accept = parse_accept(request.headers.get("accept"))
    media_type, ts = choose_frame_media_type(accept, ref.transfer_syntax)
    native = media_type == "application/octet-stream"
    part_type = media_type if native else TRANSFER_SYNTAX_MEDIA_TYPES.get(ts, media_type)
    return part_type, ts, native


def _frames_body(part_type: str, ts: str, payloads: Sequence[bytes | memoryview]) -> Response:
    boundary = new_boundary()
    content_type = f"{part_type}; transfer-syntax={ts}"
    encoded = boundary.encode("ascii")
    pieces: list[bytes | memoryview] = []
    for index, payload in enumerate(payloads):
        pieces += (_part_head(encoded, index == 0, content_type), payload)
    pieces.append(b"\r\n--" + encoded + b"--\r\n")
    return Response(b"".join(pieces), media_type=multipart_content_type(boundary, part_type))


def frames_response(request: Request, services: ServicesDep, ref: retrieve.InstanceRef,
                    numbers: list[int]) -> Response:
    """Frames of an instance as multipart/related, negotiated from the Accept header."""
    part_type, ts, native = _frames_choice(request, ref)
    payloads = retrieve.frame_payloads(services.store, ref, numbers, native)
    return _frames_body(part_type, ts, payloads)


@router.get("/studies/{study}/series/{series}/instances/{sop}/frames/{frame_list}",
            summary="Retrieve frames")
async def retrieve_frames(study: str, series: str, sop: str, frame_list: str,
                          request: Request, services: ServicesDep, _u: StudyReader) -> Response:
    """Frames (1-based, comma separated) as native pixels or their stored bitstream."""
    numbers = parse_frame_list(frame_list)
    # A viewer asks for frames one by one, so the usual request (native frames in the page
    # cache) is answered here on the event loop: an index lookup by unique key (tens of
    # microseconds) and reads the kernel serves only from memory (RWF_NOWAIT). A hop to a
    # worker thread and back cost more than that work; anything else takes that hop.
    with services.engine.connect() as conn:
        ref = retrieve.find_instances(conn, study, series, sop)[0]
    part_type, ts, native = _frames_choice(request, ref)
    cached = retrieve.cached_frame_payloads(services.store, ref, numbers)
    if cached is not None:
        return _frames_body(part_type, ts, cached)
    payloads = await anyio.to_thread.run_sync(
        retrieve.frame_payloads, services.store, ref, numbers, native)
    return _frames_body(part_type, ts, payloads)


@router.get("/studies/{study}/series/{series}/instances/{sop}/bulkdata/{path:path}",
            summary="Retrieve bulk data")
def retrieve_bulkdata(study: str, series: str, sop: str, path: str, request: Request,
                      services: ServicesDep, _u: StudyReader) -> Response:
    """The value of a bulk data element named by a BulkDataURI of the metadata."""
    with services.engine.connect() as conn:
        ref = retrieve.find_instances(conn, study, series, sop)[0]
    if path.strip("/").upper() in ("7FE00010", "7FE00008", "7FE00009"):
        if path.strip("/").upper() == "7FE00010":
            return frames_response(request, services, ref, list(range(1, (ref.frames or 1) + 1)))
    ds = retrieve.read_dataset(services.store, ref)
    element = retrieve.bulkdata_element(ds, path)
    value = element.value
    if not isinstance(value, bytes | bytearray):
        raise NotFoundError(f"element {path!r} holds no binary value")
    boundary = new_boundary()
    body = b"".join(multipart_chunks(
        [({"Content-Type": "application/octet-stream"}, bytes(value))], boundary))
    return Response(body, media_type=multipart_content_type(boundary, "application/octet-stream"))
