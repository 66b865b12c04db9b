"""Key images in the viewer: read from a study's KOS documents, flag one through STOW-RS.

A study's key images are the union of the images its Key Object Selection documents
(Modality ``KO``; ours or another system's) flag: :func:`study_key_images` reads them
through the :class:`~workbench.dicomweb.client_base.ArchiveClient` (QIDO-RS, then the
documents by WADO-RS). :func:`flag_key_image` stores one new KOS per flag (one image or
frame, with the reader's note) with :func:`workbench.dicom.kos.key_object_selection`,
so every flag keeps its own note and other viewers see it too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO

from pydicom import dcmread

from workbench.dicom.json_model import json_to_dataset
from workbench.dicom.kos import KOS_SOP_CLASS, key_images, key_object_selection
from workbench.dicomweb.client_base import ArchiveClient
from workbench.viewer.display import SeriesDisplay

__all__ = ["KeyImageEntry", "flag_key_image", "key_indices", "study_key_images"]

KOS_SERIES_NUMBER = 9100
"""Series Number of the key object documents the viewer stores."""


@dataclass(frozen=True)
class KeyImageEntry:
    """One flagged image of a study.

    Attributes
    ----------
    series_uid, sop_uid
        The flagged image (its series may be empty when the KOS lacks its evidence).
    frames
        One-based frame numbers flagged, or None for the whole image.
    note
        The KOS's Key Object Description (may be empty).
    document_uid
        SOP Instance UID of the KOS that flags it.
    """

    series_uid: str
    sop_uid: str
    frames: tuple[int, ...] | None
    note: str
    document_uid: str


def study_key_images(client: ArchiveClient, study_uid: str) -> list[KeyImageEntry]:
    """Every image the study's Key Object Selection documents flag, in document order.

    Documents that cannot be read (another SOP class filed as KO, a broken file) are
    skipped: key images are an aid, not a reason to refuse a study.
    """
    entries: list[KeyImageEntry] = []
    for series in client.search_for_series(study_uid, match={"Modality": "KO"}):
        series_uid = str(((series.get("0020000E") or {}).get("Value") or [""])[0])
        if not series_uid:
            continue
        for instance in client.search_for_instances(study_uid, series_uid):
            sop_class = str(((instance.get("00080016") or {}).get("Value") or [""])[0])
            sop_uid = str(((instance.get("00080018") or {}).get("Value") or [""])[0])
            if sop_class != KOS_SOP_CLASS or not sop_uid:
                continue
            data = client.retrieve_instance(study_uid, series_uid, sop_uid)
            try:
                selection = key_images(dcmread(BytesIO(data)))
            except (ValueError, AttributeError, KeyError, IndexError):
                continue
            entries += [KeyImageEntry(image.series_instance_uid, image.sop_instance_uid,
                                      image.frames, selection.note, sop_uid)
                        for image in selection.images]
    return entries


def key_indices(series: SeriesDisplay, entries: Sequence[KeyImageEntry]) -> list[int]:
    """Display indices (zero-based) of ``series`` that are key images.

    Examples
    --------
    >>> from workbench.viewer.display import Frame, SeriesKind
    >>> display = SeriesDisplay("1.2", "1.2.3", "CT", SeriesKind.IMAGE,
    ...                         frames=(Frame("a", 1), Frame("b", 1), Frame("b", 2)))
    >>> key_indices(display, [KeyImageEntry("1.2.3", "b", (2,), "", "k")])
    [2]
    """
    flagged: dict[str, set[int] | None] = {}
    for entry in entries:
        if entry.series_uid and entry.series_uid != series.series_uid:
            continue
        if entry.frames is None or flagged.get(entry.sop_uid, set()) is None:
            flagged[entry.sop_uid] = None
        else:
            flagged.setdefault(entry.sop_uid, set()).update(entry.frames)  # type: ignore[union-attr]
    out = []
    for index, frame in enumerate(series.frames):
        if frame.sop_uid in flagged:
            numbers = flagged[frame.sop_uid]
            if numbers is None or frame.number in numbers:
                out.append(index)
    return out


def flag_key_image(client: ArchiveClient, series: SeriesDisplay, index: int, note: str = "",
                   *, instance_number: int = 1) -> KeyImageEntry:
    """Flag image ``index`` (display order) of ``series`` as key, stored as a new KOS.

    Parameters
    ----------
    client
        Where the study lives; the KOS goes there through STOW-RS.
    series
        The series shown (its frames give the instance and frame number).
    index
        Zero-based display index of the flagged image.
    note
        The reader's note (Key Object Description); may be empty.
    instance_number
        Instance Number of the new document.

    Raises
    ------
    ValueError
        ``index`` outside the series, or the archive refused the document (its reason).
    """
    if not 0 <= index < len(series.frames):
        raise ValueError(f"image {index + 1} is not in the series (it has "
                         f"{len(series.frames)} images)")
    frame = series.frames[index]
    header = json_to_dataset(client.retrieve_instance_metadata(
        series.study_uid, series.series_uid, frame.sop_uid))
    multiframe = int(header.get("NumberOfFrames") or 1) > 1
    document = key_object_selection(
        [header], note=note.strip(), frames={frame.sop_uid: [frame.number]} if multiframe else None,
        series_number=KOS_SERIES_NUMBER, instance_number=instance_number)
    result = client.store_instances([document], series.study_uid)
    if not result.ok:
        reasons = "; ".join(f"{text} (0x{code:04X})" for _, code, text in result.failed)
        raise ValueError(f"the archive did not store the key image document: {reasons}")
    return KeyImageEntry(series.series_uid, frame.sop_uid,
                         (frame.number,) if multiframe else None, note.strip(),
                         str(document.SOPInstanceUID))
