"""How the viewer, notebooks and the ingest command reach an archive.

:class:`ArchiveClient` names its methods after the DICOMweb services (STOW-RS,
QIDO-RS, WADO-RS); two implementations follow it:

* :class:`HttpArchiveClient` talks DICOMweb over HTTP (``httpx``), streaming STOW-RS
  request bodies and WADO-RS multipart responses;
* :class:`~workbench.dicomweb.local_archive.LocalFolderArchiveClient` serves a folder
  of DICOM files, indexed in memory.

Search results and metadata are in the DICOM JSON model (PS3.18 Annex F); frame
numbers are one-based. Failures raise :mod:`workbench.errors` types carrying the
archive's message.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx
from pydicom.dataset import Dataset

from workbench.dicomweb.client_base import (
    ArchiveClient,
    ArchiveUnavailableError,
    StoreResult,
    instance_bytes,
    qido_params,
)
from workbench.dicomweb.local_archive import LocalFolderArchiveClient
from workbench.dicomweb.multipart import (
    MultipartParser,
    PartData,
    PartEnd,
    PartStart,
    boundary_from_content_type,
    multipart_chunks,
    multipart_content_type,
    new_boundary,
)
from workbench.errors import (
    ConflictError,
    NotAcceptableError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    QueryError,
    WorkbenchError,
)

__all__ = [
    "ArchiveClient",
    "ArchiveUnavailableError",
    "HttpArchiveClient",
    "LocalFolderArchiveClient",
    "StoreResult",
    "instance_bytes",
    "raise_for_response",
]


_ERRORS: tuple[tuple[tuple[int, ...], type[WorkbenchError]], ...] = (
    ((404,), NotFoundError),
    ((401, 403), PermissionDeniedError),
    ((400,), QueryError),
    ((406,), NotAcceptableError),
    ((409,), ConflictError),
    ((413,), PayloadTooLargeError),
)


def _error_message(response: httpx.Response) -> str:
    text = response.text.strip()
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("detail"):
        detail = body["detail"]
        text = detail if isinstance(detail, str) else json.dumps(detail)
    where = f"{response.request.method} {response.request.url}"
    return f"{where} failed with HTTP {response.status_code}: {text or response.reason_phrase}"


def raise_for_response(response: httpx.Response) -> None:
    """Raise the :mod:`workbench.errors` type of an error response (body already read)."""
    if response.status_code < 400:
        return
    message = _error_message(response)
    for codes, error in _ERRORS:
        if response.status_code in codes:
            raise error(message)
    raise WorkbenchError(message)


class HttpArchiveClient:
    """An :class:`ArchiveClient` speaking DICOMweb over HTTP.

    Parameters
    ----------
    url
        The DICOMweb root, e.g. ``"http://127.0.0.1:8042/dicom-web"``.
    token
        Bearer token sent as ``Authorization: Bearer <token>``.
    timeout
        Seconds to wait for connecting, and between bytes read or written.
    client
        An ``httpx.Client`` to use (and not close); a new one by default.

    Notes
    -----
    Use as a context manager, or call :meth:`close`. Unreachable archives raise
    :class:`ArchiveUnavailableError`; HTTP errors raise ``NotFoundError`` (404),
    ``PermissionDeniedError`` (401, 403), ``QueryError`` (400),
    ``NotAcceptableError`` (406), ``ConflictError`` (409), ``PayloadTooLargeError``
    (413) or ``WorkbenchError``, with the archive's message.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout: float = 120,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._owns_client = client is None
        self._http = client if client is not None else httpx.Client(timeout=timeout)

    def close(self) -> None:
        """Close the HTTP connections (unless the ``httpx.Client`` was given)."""
        if self._owns_client:
            self._http.close()

    def __enter__(self) -> HttpArchiveClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- transport ---------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        accept: str,
        params: Sequence[tuple[str, str]] = (),
    ) -> httpx.Response:
        try:
            response = self._http.request(
                method,
                self.url + path,
                params=list(params),
                headers={**self._headers, "Accept": accept},
            )
        except httpx.TransportError as exc:
            raise ArchiveUnavailableError(
                f"cannot reach the archive at {self.url}: {exc or type(exc).__name__}"
            ) from exc
        raise_for_response(response)
        return response

    def _json(self, path: str, params: Sequence[tuple[str, str]] = ()) -> Any:
        response = self._request("GET", path, accept="application/dicom+json", params=params)
        if response.status_code == 204 or not response.content.strip():
            return []
        return response.json()

    def _parts(
        self, path: str, accept: str, params: Sequence[tuple[str, str]] = ()
    ) -> Generator[bytes, None, None]:
        """Stream a multipart/related response, yielding each part's body when complete."""
        request = self._http.build_request(
            "GET",
            self.url + path,
            params=list(params),
            headers={**self._headers, "Accept": accept},
        )
        try:
            response = self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise ArchiveUnavailableError(f"cannot reach the archive at {self.url}: {exc}") from exc
        try:
            if response.status_code >= 400:
                response.read()
                raise_for_response(response)
            content_type = response.headers.get("content-type", "")
            if not content_type.lower().startswith("multipart/"):
                yield response.read()  # a single-part answer (e.g. plain application/dicom)
                return
            parser = MultipartParser(boundary_from_content_type(content_type))
            pieces: list[bytes] = []
            for chunk in response.iter_bytes():
                for event in parser.feed(chunk):
                    if isinstance(event, PartStart):
                        pieces = []
                    elif isinstance(event, PartData):
                        pieces.append(event.data)
                    elif isinstance(event, PartEnd):
                        yield b"".join(pieces)
            parser.close()
        except httpx.TransportError as exc:
            raise ArchiveUnavailableError(
                f"the connection to {self.url} broke during {path}: {exc}"
            ) from exc
        finally:
            response.close()

    # -- STOW-RS -----------------------------------------------------------------------------

    def store_instances(
        self, instances: Sequence[bytes | Dataset], study_uid: str | None = None
    ) -> StoreResult:
        """Store instances with one STOW-RS request, streaming the body part by part.

        Parameters
        ----------
        instances
            Part 10 bytes or datasets (written with file meta information one at a
            time, while the request is sent).
        study_uid
            Post to ``/studies/{study_uid}``: instances of other studies are refused.

        Returns
        -------
        StoreResult
            Also for 409 (nothing stored): read ``failed`` for the reasons.
        """
        if not instances:
            return StoreResult([], [], 200)
        boundary = new_boundary()
        part_headers = {"Content-Type": "application/dicom"}
        parts = ((part_headers, instance_bytes(item)) for item in instances)
        path = "/studies" if study_uid is None else f"/studies/{study_uid}"
        try:
            response = self._http.post(
                self.url + path,
                content=multipart_chunks(parts, boundary),
                headers={
                    **self._headers,
                    "Accept": "application/dicom+json",
                    "Content-Type": multipart_content_type(boundary, "application/dicom"),
                },
            )
        except httpx.TransportError as exc:
            raise ArchiveUnavailableError(
                f"cannot store into the archive at {self.url}: {exc or type(exc).__name__}"
            ) from exc
        body: Any = None
        if response.status_code in (200, 202, 409):
            try:
                body = response.json()
            except ValueError:
                body = None
        if isinstance(body, dict) and ("00081198" in body or "00081199" in body):
            return StoreResult.from_json(response.status_code, body)
        raise_for_response(response)
        raise WorkbenchError(
            f"POST {self.url}{path} answered HTTP {response.status_code} without a STOW-RS "
            "response body"
        )

    # -- QIDO-RS -----------------------------------------------------------------------------

    def search_for_studies(
        self,
        *,
        match: Mapping[str, str] | None = None,
        include_fields: Sequence[str] = (),
        fuzzy: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Search for studies (``GET /studies``)."""
        result: list[dict[str, Any]] = self._json(
            "/studies", qido_params(match, include_fields, fuzzy, limit, offset)
        )
        return result

    def search_for_series(
        self,
        study_uid: str | None = None,
        *,
        match: Mapping[str, str] | None = None,
        include_fields: Sequence[str] = (),
        fuzzy: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Search for series (``GET [/studies/{study}]/series``)."""
        path = "/series" if study_uid is None else f"/studies/{study_uid}/series"
        result: list[dict[str, Any]] = self._json(
            path, qido_params(match, include_fields, fuzzy, limit, offset)
        )
        return result

    def search_for_instances(
        self,
        study_uid: str | None = None,
        series_uid: str | None = None,
        *,
        match: Mapping[str, str] | None = None,
        include_fields: Sequence[str] = (),
        fuzzy: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Search for instances (``GET [/studies/{study}[/series/{series}]]/instances``).

        A ``series_uid`` without ``study_uid`` becomes a SeriesInstanceUID match.
        """
        match = dict(match or {})
        if study_uid is None:
            path = "/instances"
            if series_uid is not None:
                match["SeriesInstanceUID"] = series_uid
        elif series_uid is None:
            path = f"/studies/{study_uid}/instances"
        else:
            path = f"/studies/{study_uid}/series/{series_uid}/instances"
        result: list[dict[str, Any]] = self._json(
            path, qido_params(match, include_fields, fuzzy, limit, offset)
        )
        return result

    # -- WADO-RS -----------------------------------------------------------------------------

    def retrieve_study_metadata(self, study_uid: str) -> list[dict[str, Any]]:
        """DICOM JSON of every instance of a study (bulk data as BulkDataURIs)."""
        result: list[dict[str, Any]] = self._json(f"/studies/{study_uid}/metadata")
        return result

    def retrieve_series_metadata(self, study_uid: str, series_uid: str) -> list[dict[str, Any]]:
        """DICOM JSON of every instance of a series."""
        result: list[dict[str, Any]] = self._json(
            f"/studies/{study_uid}/series/{series_uid}/metadata"
        )
        return result

    def retrieve_instance_metadata(
        self, study_uid: str, series_uid: str, sop_uid: str
    ) -> dict[str, Any]:
        """DICOM JSON of one instance."""
        path = f"/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}/metadata"
        result = self._json(path)
        if isinstance(result, list):
            if not result:
                raise NotFoundError(f"GET {self.url}{path} returned no metadata")
            result = result[0]
        instance: dict[str, Any] = result
        return instance

    @staticmethod
    def _dicom_accept(transfer_syntax: str) -> str:
        return f'multipart/related; type="application/dicom"; transfer-syntax={transfer_syntax}'

    def retrieve_instance(
        self, study_uid: str, series_uid: str, sop_uid: str, *, transfer_syntax: str = "*"
    ) -> bytes:
        """One instance as Part 10 bytes, in ``transfer_syntax`` (``"*"``: as stored)."""
        path = f"/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}"
        parts = self._parts(path, self._dicom_accept(transfer_syntax))
        try:
            return next(parts)
        except StopIteration:
            raise NotFoundError(f"GET {self.url}{path} returned no instance") from None
        finally:
            parts.close()

    def iter_series(
        self, study_uid: str, series_uid: str, *, transfer_syntax: str = "*"
    ) -> Iterator[bytes]:
        """The instances of a series, streamed: each is yielded once it has arrived."""
        path = f"/studies/{study_uid}/series/{series_uid}"
        yield from self._parts(path, self._dicom_accept(transfer_syntax))

    def retrieve_frames(
        self,
        study_uid: str,
        series_uid: str,
        sop_uid: str,
        frames: Sequence[int],
        *,
        media_type: str = "application/octet-stream",
        transfer_syntax: str | None = None,
    ) -> list[bytes]:
        """Frames (one-based), in the order asked.

        ``application/octet-stream`` gives uncompressed pixels (Explicit VR Little
        Endian layout); an image media type (``image/jpeg``, ``image/jls``, ...) gives
        the stored bitstream when it is of that type, or ``transfer_syntax``'s.
        """
        if not frames:
            return []
        numbers = ",".join(str(int(n)) for n in frames)
        path = f"/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}/frames/{numbers}"
        accept = f'multipart/related; type="{media_type}"'
        if transfer_syntax:
            accept += f"; transfer-syntax={transfer_syntax}"
        return list(self._parts(path, accept))

    def retrieve_rendered(
        self,
        study_uid: str,
        series_uid: str,
        sop_uid: str,
        *,
        frame: int | None = None,
        window: tuple[float, float] | None = None,
        viewport: tuple[int, int] | None = None,
        media_type: str = "image/jpeg",
    ) -> bytes:
        """An instance (or one frame) rendered, windowed and scaled to fit ``viewport``.

        ``window`` is ``(center, width)`` in modality units; ``viewport`` is
        ``(width, height)`` in pixels.
        """
        path = f"/studies/{study_uid}/series/{series_uid}/instances/{sop_uid}"
        path += "/rendered" if frame is None else f"/frames/{int(frame)}/rendered"
        params: list[tuple[str, str]] = []
        if window is not None:
            params.append(("window", f"{window[0]:g},{window[1]:g}"))
        if viewport is not None:
            params.append(("viewport", f"{int(viewport[0])},{int(viewport[1])}"))
        return self._request("GET", path, accept=media_type, params=params).content

    def retrieve_thumbnail(
        self,
        study_uid: str,
        series_uid: str | None = None,
        sop_uid: str | None = None,
        *,
        size: int = 128,
    ) -> bytes:
        """A JPEG thumbnail of a study, series (middle instance) or instance."""
        path = f"/studies/{study_uid}"
        if series_uid is not None:
            path += f"/series/{series_uid}"
            if sop_uid is not None:
                path += f"/instances/{sop_uid}"
        params = [("viewport", f"{int(size)},{int(size)}")]
        return self._request("GET", path + "/thumbnail", accept="image/jpeg", params=params).content
