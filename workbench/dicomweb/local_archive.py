"""An archive made of a folder of DICOM files, for notebooks and offline work.

:class:`LocalFolderArchiveClient` follows :class:`~workbench.dicomweb.client.ArchiveClient`:
the folder is scanned recursively on first use, headers only (``stop_before_pixels``),
and searched in memory with the matching rules of the archive's QIDO-RS
(:mod:`workbench.dicomweb.query`). Stored instances are written as
``<study>/<series>/<sop>.dcm`` under the folder.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import pydicom
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from workbench.dicom.frames import (
    NATIVE_TRANSFER_SYNTAXES,
    encoded_frame,
    native_frame,
    to_explicit_little_endian,
)
from workbench.dicom.json_model import dataset_to_json
from workbench.dicom.read import ParsedInstance, parse_instance, text
from workbench.dicomweb.client_base import (
    CANNOT_UNDERSTAND,
    DOES_NOT_MATCH_SOP_CLASS,
    DUPLICATE_SOP_INSTANCE,
    StoreResult,
    instance_bytes,
    qido_params,
    store_status,
)
from workbench.dicomweb.local_query import attribute_vr, dataset_matches
from workbench.dicomweb.media import MediaRange, choose_frame_media_type
from workbench.dicomweb.query import DEFAULT_RETURN_KEYS, QidoQuery, QueryLevel, parse_qido
from workbench.errors import InvalidDicomError, NotAcceptableError, NotFoundError
from workbench.imaging.render import Viewport, Window, render_frame, thumbnail

__all__ = ["LocalFolderArchiveClient"]

_EXTRA_KEYS = {
    QueryLevel.STUDY: (),
    QueryLevel.SERIES: ("StudyInstanceUID",),
    QueryLevel.INSTANCE: ("StudyInstanceUID", "SeriesInstanceUID", "Modality", "SeriesNumber"),
}
_RETRIEVE_URL = 0x00081190


@dataclass(frozen=True)
class _Instance:
    path: Path
    parsed: ParsedInstance

    @property
    def header(self) -> Dataset:
        return self.parsed.dataset

    def sort_key(self) -> tuple[int, str]:
        number = self.header.get("InstanceNumber")
        try:
            return int(number), self.parsed.sop_uid
        except (TypeError, ValueError):
            return 1 << 31, self.parsed.sop_uid


class LocalFolderArchiveClient:
    """A read-mostly archive over a folder of DICOM files (searched recursively).

    Parameters
    ----------
    folder
        The folder; created by :meth:`store_instances` if missing.

    Notes
    -----
    Files that are not DICOM Part 10, or lack a study, series or SOP Instance UID,
    are left out of the index. Call :meth:`refresh` after changing the folder by
    other means. Search results and metadata are DICOM JSON without RetrieveURL or
    BulkDataURIs (binary values are inline).
    """

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self._lock = threading.RLock()
        self._index: dict[str, dict[str, dict[str, _Instance]]] | None = None
        self._sops: dict[str, _Instance] = {}

    def close(self) -> None:
        """Forget the index (nothing else to release)."""
        self.refresh()

    def __enter__(self) -> LocalFolderArchiveClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def refresh(self) -> None:
        """Drop the index; the next call rescans the folder."""
        with self._lock:
            self._index = None

    # -- index -------------------------------------------------------------------------------

    def _studies(self) -> dict[str, dict[str, dict[str, _Instance]]]:
        with self._lock:
            if self._index is None:
                index: dict[str, dict[str, dict[str, _Instance]]] = {}
                self._sops = {}
                paths = sorted(p for p in self.folder.rglob("*") if p.is_file())
                for path in paths:
                    instance = self._read_header(path)
                    if instance is not None:
                        self._add(index, instance)
                self._index = index
            return self._index

    @staticmethod
    def _read_header(path: Path) -> _Instance | None:
        try:
            with open(path, "rb") as fh:
                if fh.read(132)[128:132] != b"DICM":
                    return None
                fh.seek(0)
                return _Instance(path, parse_instance(fh))
        except (OSError, InvalidDicomError):
            return None

    def _add(self, index: dict[str, dict[str, dict[str, _Instance]]], instance: _Instance) -> None:
        """Index ``instance`` unless its SOP Instance UID is known (the first file wins)."""
        parsed = instance.parsed
        if parsed.sop_uid not in self._sops:
            self._sops[parsed.sop_uid] = instance
            series = index.setdefault(parsed.study_uid, {}).setdefault(parsed.series_uid, {})
            series[parsed.sop_uid] = instance

    def _snapshot(self) -> dict[str, dict[str, dict[str, _Instance]]]:
        """A copy of the index, safe to walk while another thread stores."""
        with self._lock:
            studies = self._studies()
            return {uid: {s: dict(i) for s, i in series.items()} for uid, series in studies.items()}

    def _find(
        self, study: str, series: str | None = None, sop: str | None = None
    ) -> list[_Instance]:
        with self._lock:
            found = self._studies().get(study)
            if found is not None:
                found = {uid: dict(instances) for uid, instances in found.items()}
        if found is None:
            raise NotFoundError(f"study {study} is not in {self.folder}")
        if series is not None:
            if series not in found:
                raise NotFoundError(f"series {series} of study {study} is not in {self.folder}")
            found = {series: found[series]}
        instances = [i for s in found.values() for i in sorted(s.values(), key=_Instance.sort_key)]
        if sop is not None:
            instances = [i for i in instances if i.parsed.sop_uid == sop]
            if not instances:
                raise NotFoundError(
                    f"instance {sop} of series {series} in study {study} is not in {self.folder}"
                )
        return instances

    # -- STOW --------------------------------------------------------------------------------

    def store_instances(
        self, instances: Sequence[bytes | Dataset], study_uid: str | None = None
    ) -> StoreResult:
        """Validate instances and write them as ``<study>/<series>/<sop>.dcm``.

        Identical re-sends are reported as stored; an existing SOP Instance UID with
        other content, an unreadable instance or one of another study than
        ``study_uid`` is reported in ``failed``.
        """
        stored: list[str] = []
        failed: list[tuple[str | None, int, str]] = []
        studies = self._studies()
        for item in instances:
            data = instance_bytes(item)
            try:
                parsed = parse_instance(data)
            except InvalidDicomError as exc:
                failed.append((None, CANNOT_UNDERSTAND, str(exc)))
                continue
            sop = parsed.sop_uid
            if study_uid is not None and parsed.study_uid != study_uid:
                failed.append(
                    (
                        sop,
                        DOES_NOT_MATCH_SOP_CLASS,
                        f"StudyInstanceUID {parsed.study_uid} differs from the study "
                        f"{study_uid} the instances are stored into",
                    )
                )
                continue
            with self._lock:
                known = self._sops.get(sop)
                if known is not None:
                    if known.path.read_bytes() == data:
                        stored.append(sop)
                    else:
                        failed.append(
                            (
                                sop,
                                DUPLICATE_SOP_INSTANCE,
                                f"SOPInstanceUID {sop} is already stored with different content",
                            )
                        )
                    continue
                path = self.folder / parsed.study_uid / parsed.series_uid / f"{sop}.dcm"
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_name(f".{sop}.{os.getpid()}.partial")
                partial.write_bytes(data)
                os.replace(partial, path)
                self._add(studies, _Instance(path, parsed))
            stored.append(sop)
        return StoreResult(stored, failed, store_status(len(stored), len(failed)))

    # -- QIDO --------------------------------------------------------------------------------

    def _result(
        self, query: QidoQuery, header: Dataset, computed: Mapping[str, Any]
    ) -> dict[str, Any]:
        source = dataset_to_json(header)
        tags = list(DEFAULT_RETURN_KEYS[query.level])
        tags += [int(tag_for_keyword(k) or 0) for k in _EXTRA_KEYS[query.level]]
        tags += [m.tag for m in query.matches] + list(query.include_fields)
        item: dict[str, Any] = dict(source) if query.include_all else {}
        for tag in tags:
            if tag != _RETRIEVE_URL:
                key = f"{tag:08X}"
                item[key] = source.get(key, {"vr": attribute_vr(tag)})
        item.update(computed)
        item["00080056"] = {"vr": "CS", "Value": ["ONLINE"]}
        return dict(sorted(item.items()))

    @staticmethod
    def _page(results: list[dict[str, Any]], query: QidoQuery) -> list[dict[str, Any]]:
        end = None if query.limit is None else query.offset + query.limit
        return results[query.offset : end]

    def search_for_studies(
        self,
        *,
        match: Mapping[str, str] | None = None,
        include_fields: Sequence[str] = (),
        fuzzy: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Studies matching ``match``, newest StudyDate first."""
        params = qido_params(match, include_fields, fuzzy, limit, offset)
        query = parse_qido(params, QueryLevel.STUDY)
        found: list[tuple[str, dict[str, Any]]] = []
        for study in self._snapshot().values():
            series = list(study.values())
            first = next(iter(series[0].values())).header
            modalities = sorted(
                {text(next(iter(s.values())).header, "Modality") for s in series} - {""}
            )
            if not dataset_matches(query, first, modalities):
                continue
            computed = {
                "00080061": {"vr": "CS", "Value": modalities} if modalities else {"vr": "CS"},
                "00201206": {"vr": "IS", "Value": [len(series)]},
                "00201208": {"vr": "IS", "Value": [sum(len(s) for s in series)]},
            }
            found.append((text(first, "StudyDate"), self._result(query, first, computed)))
        found.sort(key=lambda pair: pair[0], reverse=True)
        return self._page([result for _, result in found], query)

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
        """Series of one study (or all) matching ``match``, by series number."""
        params = qido_params(match, include_fields, fuzzy, limit, offset)
        query = parse_qido(params, QueryLevel.SERIES)
        studies = self._snapshot()
        if study_uid is not None:
            studies = {study_uid: studies[study_uid]} if study_uid in studies else {}
        results: list[dict[str, Any]] = []
        for study in studies.values():
            ordered = sorted(study.values(), key=lambda s: min(i.sort_key() for i in s.values()))
            ordered.sort(key=lambda s: _series_number(next(iter(s.values())).header))
            for series in ordered:
                first = min(series.values(), key=_Instance.sort_key).header
                if dataset_matches(query, first, ()):
                    computed = {"00201209": {"vr": "IS", "Value": [len(series)]}}
                    results.append(self._result(query, first, computed))
        return self._page(results, query)

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
        """Instances of a series, a study or all studies matching ``match``."""
        params = qido_params(match, include_fields, fuzzy, limit, offset)
        query = parse_qido(params, QueryLevel.INSTANCE)
        results: list[dict[str, Any]] = []
        for study, series_map in self._snapshot().items():
            if study_uid is not None and study != study_uid:
                continue
            for series, instances in series_map.items():
                if series_uid is not None and series != series_uid:
                    continue
                for instance in sorted(instances.values(), key=_Instance.sort_key):
                    if dataset_matches(query, instance.header, ()):
                        results.append(self._result(query, instance.header, {}))
        return self._page(results, query)

    # -- WADO --------------------------------------------------------------------------------

    def retrieve_study_metadata(self, study_uid: str) -> list[dict[str, Any]]:
        """DICOM JSON of every instance of a study."""
        return [dataset_to_json(i.header) for i in self._find(study_uid)]

    def retrieve_series_metadata(self, study_uid: str, series_uid: str) -> list[dict[str, Any]]:
        """DICOM JSON of every instance of a series."""
        return [dataset_to_json(i.header) for i in self._find(study_uid, series_uid)]

    def retrieve_instance_metadata(
        self, study_uid: str, series_uid: str, sop_uid: str
    ) -> dict[str, Any]:
        """DICOM JSON of one instance."""
        return dataset_to_json(self._find(study_uid, series_uid, sop_uid)[0].header)

    @staticmethod
    def _instance_bytes(instance: _Instance, transfer_syntax: str) -> bytes:
        stored = instance.parsed.transfer_syntax
        if transfer_syntax in ("*", stored):
            return instance.path.read_bytes()
        if transfer_syntax != ExplicitVRLittleEndian:
            raise NotAcceptableError(
                f"instance {instance.parsed.sop_uid} is stored as {stored}; a local folder "
                f"archive sends it as stored or as {ExplicitVRLittleEndian}, not {transfer_syntax}"
            )
        converted = to_explicit_little_endian(pydicom.dcmread(instance.path))
        return instance_bytes(converted)

    def retrieve_instance(
        self, study_uid: str, series_uid: str, sop_uid: str, *, transfer_syntax: str = "*"
    ) -> bytes:
        """The file's bytes (``"*"`` or its own syntax), or Explicit VR Little Endian."""
        instance = self._find(study_uid, series_uid, sop_uid)[0]
        return self._instance_bytes(instance, transfer_syntax)

    def iter_series(
        self, study_uid: str, series_uid: str, *, transfer_syntax: str = "*"
    ) -> Iterator[bytes]:
        """The instances of a series, read one file at a time."""
        for instance in self._find(study_uid, series_uid):
            yield self._instance_bytes(instance, transfer_syntax)

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
        """Frames decoded (``application/octet-stream``) or as their stored bitstream."""
        instance = self._find(study_uid, series_uid, sop_uid)[0]
        params = {} if transfer_syntax is None else {"transfer-syntax": transfer_syntax}
        chosen, _ = choose_frame_media_type(
            [MediaRange(media_type, params)],
            instance.parsed.transfer_syntax,
            can_serve=lambda uid: uid in NATIVE_TRANSFER_SYNTAXES,
        )
        ds = pydicom.dcmread(instance.path)
        read = native_frame if chosen == "application/octet-stream" else encoded_frame
        return [read(ds, int(number)) for number in frames]

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
        """Frame ``frame`` (default 1) windowed, scaled to fit ``viewport``, encoded."""
        instance = self._find(study_uid, series_uid, sop_uid)[0]
        return render_frame(
            pydicom.dcmread(instance.path),
            1 if frame is None else int(frame),
            window=None if window is None else Window(float(window[0]), float(window[1])),
            viewport=None if viewport is None else Viewport(int(viewport[0]), int(viewport[1])),
            media_type=media_type,
        )

    def retrieve_thumbnail(
        self,
        study_uid: str,
        series_uid: str | None = None,
        sop_uid: str | None = None,
        *,
        size: int = 128,
    ) -> bytes:
        """A JPEG of the study's first image, the series' middle image, or the instance."""
        imaged = [i for i in self._find(study_uid, series_uid, sop_uid) if i.parsed.has_pixel_data]
        if not imaged:
            raise NotFoundError(f"study {study_uid} has no image to show")
        chosen = imaged[len(imaged) // 2] if series_uid is not None else imaged[0]
        try:
            return thumbnail(pydicom.dcmread(chosen.path), size=size)
        except InvalidDicomError as exc:
            raise NotFoundError(f"no thumbnail: {exc}") from None


def _series_number(header: Dataset) -> int:
    try:
        return int(header.get("SeriesNumber"))
    except (TypeError, ValueError):
        return 1 << 31
