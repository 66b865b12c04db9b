"""WADO-RS (PS3.18 10.4): instances, metadata, frames and bulk data."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from server.deps import ServicesDep, UserDep, dicomweb_base
from server.services import retrieve
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


def _retrieve(request: Request, services: ServicesDep, study: str, series: str | None,
              sop: str | None) -> StreamingResponse:
    accept = parse_accept(request.headers.get("accept"))
    with services.engine.connect() as conn:
        refs = retrieve.find_instances(conn, study, series, sop)
    plans = [(ref, choose_instance_transfer_syntax(accept, ref.transfer_syntax)) for ref in refs]
    boundary = new_boundary()
    store = services.store

    def parts() -> Iterator[tuple[dict[str, str], Iterator[bytes]]]:
        for ref, ts in plans:
            actual = ref.transfer_syntax if ts == "*" else ts
            yield (
                {"Content-Type": f"application/dicom; transfer-syntax={actual}"},
                retrieve.instance_bytes(store, ref, ts),
            )

    return StreamingResponse(
        multipart_chunks(parts(), boundary),
        media_type=multipart_content_type(boundary, "application/dicom"),
    )


@router.get("/studies/{study}", summary="Retrieve a study")
def retrieve_study(study: str, request: Request, services: ServicesDep, _u: UserDep
                   ) -> StreamingResponse:
    """All instances of a study as multipart/related application/dicom."""
    return _retrieve(request, services, study, None, None)


@router.get("/studies/{study}/series/{series}", summary="Retrieve a series")
def retrieve_series(study: str, series: str, request: Request, services: ServicesDep,
                    _u: UserDep) -> StreamingResponse:
    """All instances of a series."""
    return _retrieve(request, services, study, series, None)


@router.get("/studies/{study}/series/{series}/instances/{sop}", summary="Retrieve an instance")
def retrieve_instance(study: str, series: str, sop: str, request: Request,
                      services: ServicesDep, _u: UserDep) -> StreamingResponse:
    """One instance."""
    return _retrieve(request, services, study, series, sop)


def _metadata(request: Request, services: ServicesDep, study: str, series: str | None,
              sop: str | None) -> Response:
    with services.engine.connect() as conn:
        body = retrieve.metadata_json(conn, dicomweb_base(request), study, series, sop)
    return Response(body, media_type=DICOM_JSON)


@router.get("/studies/{study}/metadata", summary="Study metadata")
def study_metadata(study: str, request: Request, services: ServicesDep, _u: UserDep
                   ) -> Response:
    """DICOM JSON of every instance of a study, bulk data as BulkDataURIs."""
    return _metadata(request, services, study, None, None)


@router.get("/studies/{study}/series/{series}/metadata", summary="Series metadata")
def series_metadata(study: str, series: str, request: Request, services: ServicesDep,
                    _u: UserDep) -> Response:
    """DICOM JSON of every instance of a series."""
    return _metadata(request, services, study, series, None)


@router.get("/studies/{study}/series/{series}/instances/{sop}/metadata",
            summary="Instance metadata")
def instance_metadata(study: str, series: str, sop: str, request: Request,
                      services: ServicesDep, _u: UserDep) -> Response:
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


def frames_response(request: Request, services: ServicesDep, ref: retrieve.InstanceRef,
                    numbers: list[int]) -> Response:
    """Frames of an instance as multipart/related, negotiated from the Accept header."""
    accept = parse_accept(request.headers.get("accept"))
    media_type, ts = choose_frame_media_type(accept, ref.transfer_syntax)
    native = media_type == "application/octet-stream"
    payloads = [retrieve.frame_payload(services.store, ref, n, native) for n in numbers]
    boundary = new_boundary()
    part_type = media_type if native else TRANSFER_SYNTAX_MEDIA_TYPES.get(ts, media_type)
    header = {"Content-Type": f"{part_type}; transfer-syntax={ts}"}
    body = b"".join(multipart_chunks(((header, p) for p in payloads), boundary))
    return Response(body, media_type=multipart_content_type(boundary, part_type))


@router.get("/studies/{study}/series/{series}/instances/{sop}/frames/{frame_list}",
            summary="Retrieve frames")
def retrieve_frames(study: str, series: str, sop: str, frame_list: str, request: Request,
                    services: ServicesDep, _u: UserDep) -> Response:
    """Frames (1-based, comma separated) as native pixels or their stored bitstream."""
    numbers = parse_frame_list(frame_list)
    with services.engine.connect() as conn:
        ref = retrieve.find_instances(conn, study, series, sop)[0]
    return frames_response(request, services, ref, numbers)


@router.get("/studies/{study}/series/{series}/instances/{sop}/bulkdata/{path:path}",
            summary="Retrieve bulk data")
def retrieve_bulkdata(study: str, series: str, sop: str, path: str, request: Request,
                      services: ServicesDep, _u: UserDep) -> Response:
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
