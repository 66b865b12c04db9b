"""The :class:`ArchiveClient` protocol and what its implementations share.

:class:`StoreResult` is what ``store_instances`` returns whatever the archive;
:meth:`StoreResult.from_json` reads it from a STOW-RS response body (PS3.18 10.5.3,
Table 10.5.3-1). :func:`instance_bytes` and :func:`qido_params` turn the clients'
arguments into Part 10 bytes and QIDO-RS query parameters.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, runtime_checkable

from pydicom import dcmwrite
from pydicom.dataset import Dataset

from workbench.errors import WorkbenchError

__all__ = [
    "CANNOT_UNDERSTAND",
    "DOES_NOT_MATCH_SOP_CLASS",
    "DUPLICATE_SOP_INSTANCE",
    "PROCESSING_FAILURE",
    "ArchiveClient",
    "ArchiveUnavailableError",
    "StoreResult",
    "instance_bytes",
    "qido_params",
    "store_status",
]


class ArchiveUnavailableError(WorkbenchError):
    """The archive cannot be reached (connection refused, timeout, broken connection)."""


#: Failure Reason codes used in FailedSOPSequence (PS3.4 Annex B C-STORE statuses).
CANNOT_UNDERSTAND: Final = 0xC000
DOES_NOT_MATCH_SOP_CLASS: Final = 0xA900
PROCESSING_FAILURE: Final = 0x0110
DUPLICATE_SOP_INSTANCE: Final = 0x0111

_FAILED_SOP_SEQUENCE: Final = "00081198"
_REFERENCED_SOP_SEQUENCE: Final = "00081199"
_REFERENCED_SOP_INSTANCE_UID: Final = "00081155"
_FAILURE_REASON: Final = "00081197"
_WARNING_REASON: Final = "00081196"
_ERROR_COMMENT: Final = "00000902"


@dataclass(frozen=True)
class StoreResult:
    """What an archive did with the instances of one store request.

    Attributes
    ----------
    stored
        SOP Instance UIDs stored (or already stored with identical content), in the
        order the archive reported them.
    failed
        ``(sop_instance_uid, failure_reason, text)`` per refused instance, in the
        archive's order; the UID is ``None`` when the archive could not read one.
        ``failure_reason`` is a PS3.4 status code such as ``0xC000``.
    status
        HTTP-style status of the whole request: 200 all stored, 202 some stored,
        409 none stored.
    warnings
        ``(sop_instance_uid, warning_reason, text)`` for stored instances the archive
        attached a WarningReason (0008,1196) to.
    """

    stored: list[str]
    failed: list[tuple[str | None, int, str]]
    status: int
    warnings: list[tuple[str, int, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every instance was stored."""
        return not self.failed

    @classmethod
    def from_json(cls, status: int, body: Mapping[str, Any]) -> StoreResult:
        """Read a STOW-RS response body in the DICOM JSON model.

        Parameters
        ----------
        status
            The HTTP status of the response.
        body
            The decoded ``application/dicom+json`` object.

        Returns
        -------
        StoreResult
        """
        stored: list[str] = []
        warnings: list[tuple[str, int, str]] = []
        for item in _items(body, _REFERENCED_SOP_SEQUENCE):
            uid = _first(item, _REFERENCED_SOP_INSTANCE_UID)
            if uid is None:
                continue
            stored.append(str(uid))
            warning = _first(item, _WARNING_REASON)
            if warning is not None:
                warnings.append((str(uid), _code(warning), _text(item)))
        failed: list[tuple[str | None, int, str]] = []
        for item in _items(body, _FAILED_SOP_SEQUENCE):
            uid = _first(item, _REFERENCED_SOP_INSTANCE_UID)
            reason = _first(item, _FAILURE_REASON)
            code = PROCESSING_FAILURE if reason is None else _code(reason)
            failed.append((None if uid is None else str(uid), code, _text(item)))
        return cls(stored, failed, status, warnings)


@runtime_checkable
class ArchiveClient(Protocol):
    """The DICOMweb services an archive offers, whatever its transport."""

    def store_instances(
        self, instances: Sequence[bytes | Dataset], study_uid: str | None = None
    ) -> StoreResult:
        """Store instances (STOW-RS); Part 10 bytes or datasets, all of ``study_uid`` if given."""
        ...

    def search_for_studies(
        self,
        *,
        match: Mapping[str, str] | None = None,
        include_fields: Sequence[str] = (),
        fuzzy: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Studies whose attributes match ``match`` (keyword or tag -> QIDO-RS value)."""
        ...

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
        """Series of one study, or of all studies, matching ``match``."""
        ...

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
        """Instances of one series, one study or all studies, matching ``match``."""
        ...

    def retrieve_study_metadata(self, study_uid: str) -> list[dict[str, Any]]:
        """DICOM JSON of every instance of a study."""
        ...

    def retrieve_series_metadata(self, study_uid: str, series_uid: str) -> list[dict[str, Any]]:
        """DICOM JSON of every instance of a series."""
        ...

    def retrieve_instance_metadata(
        self, study_uid: str, series_uid: str, sop_uid: str
    ) -> dict[str, Any]:
        """DICOM JSON of one instance."""
        ...

    def retrieve_instance(
        self, study_uid: str, series_uid: str, sop_uid: str, *, transfer_syntax: str = "*"
    ) -> bytes:
        """One instance as Part 10 bytes; ``"*"`` keeps the stored transfer syntax."""
        ...

    def iter_series(
        self, study_uid: str, series_uid: str, *, transfer_syntax: str = "*"
    ) -> Iterator[bytes]:
        """The instances of a series as Part 10 bytes, one at a time."""
        ...

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
        """Frames (one-based), uncompressed by default or as ``media_type`` bitstreams."""
        ...

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
        """An instance or frame rendered as ``media_type`` (JPEG or PNG)."""
        ...

    def retrieve_thumbnail(
        self,
        study_uid: str,
        series_uid: str | None = None,
        sop_uid: str | None = None,
        *,
        size: int = 128,
    ) -> bytes:
        """A JPEG fitting ``size`` x ``size`` showing a study, series or instance."""
        ...


def store_status(stored: int, failed: int) -> int:
    """HTTP status of a store request: 200 all stored, 202 partly, 409 none."""
    if not failed:
        return 200
    return 202 if stored else 409


def _items(body: Mapping[str, Any], tag: str) -> list[Mapping[str, Any]]:
    element = body.get(tag)
    if not isinstance(element, Mapping):
        return []
    values = element.get("Value")
    return [v for v in values if isinstance(v, Mapping)] if isinstance(values, list) else []


def _first(item: Mapping[str, Any], tag: str) -> Any:
    element = item.get(tag)
    if not isinstance(element, Mapping):
        return None
    values = element.get("Value")
    return values[0] if isinstance(values, list) and values else None


def _code(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return PROCESSING_FAILURE


def _text(item: Mapping[str, Any]) -> str:
    comment = _first(item, _ERROR_COMMENT)
    return "" if comment is None else str(comment)


def instance_bytes(instance: bytes | Dataset) -> bytes:
    """Part 10 bytes of ``instance``: bytes unchanged, a dataset written with file meta.

    Raises
    ------
    TypeError
        ``instance`` is neither bytes nor a :class:`~pydicom.dataset.Dataset`.
    """
    if isinstance(instance, bytes | bytearray | memoryview):
        return bytes(instance)
    if not isinstance(instance, Dataset):
        raise TypeError(f"expected Part 10 bytes or a pydicom Dataset, got {type(instance)!r}")
    buffer = io.BytesIO()
    dcmwrite(buffer, instance, enforce_file_format=True)
    return buffer.getvalue()


def qido_params(
    match: Mapping[str, str] | None,
    include_fields: Sequence[str],
    fuzzy: bool,
    limit: int | None,
    offset: int,
) -> list[tuple[str, str]]:
    """QIDO-RS query parameters for the search methods' arguments.

    Parameters
    ----------
    match
        Matching keys (keyword or tag) and their QIDO-RS values.
    include_fields
        Keywords or tags for ``includefield`` (``"all"`` for everything).
    fuzzy
        Add ``fuzzymatching=true``.
    limit, offset
        Paging; ``limit=None`` and ``offset=0`` are left out.

    Returns
    -------
    list of tuple of str
        ``(key, value)`` pairs in that order.
    """
    params = [(str(key), str(value)) for key, value in (match or {}).items()]
    params += [("includefield", str(name)) for name in include_fields]
    if fuzzy:
        params.append(("fuzzymatching", "true"))
    if limit is not None:
        params.append(("limit", str(limit)))
    if offset:
        params.append(("offset", str(offset)))
    return params
