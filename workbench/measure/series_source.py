"""The images of one series for scripted measurements: from a folder or from an archive.

``workbench measure volume`` takes a folder of DICOM files or the UID of a study or a
series on an archive. :func:`read_folder` reads a folder (recursively);
:func:`retrieve_series` finds a UID on an archive through QIDO-RS and retrieves the
series over WADO-RS, both through an
:class:`~workbench.dicomweb.client_base.ArchiveClient` (never the server's internals).
When a folder or a study holds several series and none is named, the image series with
the most instances is taken (non-image series such as SEG, SR or PR are never taken).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from tqdm import tqdm

from workbench.dicomweb.client_base import ArchiveClient
from workbench.errors import NotFoundError
from workbench.measure._dicomjson import json_int, json_text

__all__ = ["NON_IMAGE_MODALITIES", "SeriesImages", "read_folder", "retrieve_series"]

NON_IMAGE_MODALITIES = frozenset({
    "AU", "DOC", "ECG", "FID", "HD", "KO", "PLAN", "PR", "REG", "RTDOSE", "RTPLAN",
    "RTRECORD", "RTSTRUCT", "RWV", "SEG", "SR",
})  # fmt: skip
"""Modalities (0008,0060) of series that hold no volume to measure."""


@dataclass(frozen=True)
class SeriesImages:
    """The images of one series and where they came from.

    Attributes
    ----------
    datasets
        The instances, pixel data included, in the order read.
    study_uid, series_uid
        Study and Series Instance UID.
    source
        The folder, or the archive's DICOMweb root.
    """

    datasets: tuple[Dataset, ...]
    study_uid: str
    series_uid: str
    source: str


def read_folder(folder: Path, *, series_uid: str | None = None, progress: bool = False
                ) -> SeriesImages:
    """Read the DICOM files under `folder` (or one file) and return one series of them.

    Parameters
    ----------
    folder
        A folder, searched recursively (files that are not DICOM are skipped), or a file.
    series_uid
        The series to return; by default the image series with the most files.
    progress
        Show a progress bar (tqdm, on standard error) while reading.

    Raises
    ------
    ValueError
        `folder` does not exist, holds no image series, or not `series_uid`.
    """
    if not folder.exists():
        raise ValueError(f"{folder} does not exist")
    files = [folder] if folder.is_file() else sorted(p for p in folder.rglob("*") if p.is_file())
    by_series: dict[str, list[Dataset]] = {}
    for path in tqdm(files, desc="reading", unit="file", disable=not progress):
        try:
            ds = dcmread(path)
        except (InvalidDicomError, OSError, EOFError):
            continue
        uid = str(ds.get("SeriesInstanceUID", ""))
        if uid and "PixelData" in ds:
            by_series.setdefault(uid, []).append(ds)
    summaries = {uid: (str(items[0].get("Modality", "")), len(items))
                 for uid, items in by_series.items()}
    chosen = _choose(summaries, series_uid, f"{folder}")
    datasets = by_series[chosen]
    return SeriesImages(tuple(datasets), str(datasets[0].StudyInstanceUID), chosen, str(folder))


def retrieve_series(client: ArchiveClient, uid: str, *, series_uid: str | None = None,
                    progress: bool = False, source: str = "the archive") -> SeriesImages:
    """Retrieve the series `uid` names on an archive: a series, or a series of a study.

    Parameters
    ----------
    client
        The archive.
    uid
        A Series Instance UID, or a Study Instance UID.
    series_uid
        With a study UID: the series to take (default: the image series with the most
        instances).
    progress
        Show a progress bar (tqdm, on standard error) while retrieving.
    source
        How to name the archive in messages and in the result (its URL).

    Raises
    ------
    NotFoundError
        No study or series with that UID is visible on the archive.
    ValueError
        The study holds no image series, or not `series_uid`.
    """
    study_uid, series = _series_of(client, uid, series_uid)
    summaries = {json_text(s, "SeriesInstanceUID"): (json_text(s, "Modality"),
                                                      json_int(s, "NumberOfSeriesRelatedInstances"))
                 for s in series}
    chosen = _choose(summaries, series_uid, f"study {study_uid} on {source}")
    total = summaries[chosen][1] or None
    parts = client.iter_series(study_uid, chosen)
    datasets = [dcmread(BytesIO(data)) for data in
                tqdm(parts, total=total, desc="retrieving", unit="instance", disable=not progress)]
    if not datasets:
        raise NotFoundError(f"series {chosen} on {source} returned no instance")
    return SeriesImages(tuple(datasets), study_uid, chosen, source)


def _series_of(client: ArchiveClient, uid: str, series_uid: str | None
               ) -> tuple[str, list[Mapping[str, Any]]]:
    """``(study UID, QIDO series results)`` for a study or series UID."""
    if series_uid is None:
        found = client.search_for_series(match={"SeriesInstanceUID": uid},
                                         include_fields=["StudyInstanceUID"])
        if found:
            study = json_text(found[0], "StudyInstanceUID")
            if not study:
                raise NotFoundError(f"the archive gave no Study Instance UID for series {uid}")
            return study, list(found)
    try:
        series = client.search_for_series(uid)
    except NotFoundError:
        series = []
    if not series:
        raise NotFoundError(f"no study or series with UID {uid} on the archive (or not "
                            "visible to this token)")
    return uid, list(series)


def _choose(summaries: Mapping[str, tuple[str, int]], wanted: str | None, where: str) -> str:
    """The series to measure among ``{series UID: (modality, instances)}``."""
    if wanted is not None:
        if wanted not in summaries:
            raise ValueError(f"series {wanted} is not in {where} (found: "
                             f"{_listing(summaries) or 'none'})")
        return wanted
    images = [(count, uid) for uid, (modality, count) in summaries.items()
              if modality.upper() not in NON_IMAGE_MODALITIES]
    if not images:
        raise ValueError(f"no image series in {where} (found: {_listing(summaries) or 'none'})")
    return max(images)[1]


def _listing(summaries: Mapping[str, tuple[str, int]]) -> str:
    return ", ".join(f"{uid} ({modality}, {count})" for uid, (modality, count) in
                     sorted(summaries.items()))

