"""Key images as DICOM Key Object Selection documents (PS3.3 A.59, TID 2010), via highdicom.

A reading physician flags images (or frames) as key, with an optional note; the flags
travel as one KOS document per study so that any viewer shows them. :func:`key_images`
reads them back from any KOS, ours or another system's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from highdicom.ko import KeyObjectSelection, KeyObjectSelectionDocument
from pydicom import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

KOS_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.88.59"


@dataclass(frozen=True)
class KeyImage:
    """One flagged image: its SOP class and instance, frames (None: the whole image)."""

    sop_class_uid: str
    sop_instance_uid: str
    series_instance_uid: str
    frames: tuple[int, ...] | None = None


@dataclass(frozen=True)
class KeyImageSelection:
    """What a KOS says: the key images, the note, and the title code meaning."""

    images: tuple[KeyImage, ...]
    note: str
    title: str


def key_object_selection(images: Sequence[Dataset], *, note: str = "",
                         frames: dict[str, Sequence[int]] | None = None,
                         series_number: int = 9100, instance_number: int = 1
                         ) -> Dataset:
    """A KOS document flagging ``images`` "Of Interest".

    Parameters
    ----------
    images
        Headers of the flagged images (one study; pixel data not needed).
    note
        Free text shown with the key images (TID 2010 Key Object Description).
    frames
        SOP Instance UID -> 1-based frame numbers, for multi-frame images.
    series_number, instance_number
        Numbers of the new document.
    """
    if not images:
        raise ValueError("flag at least one image as key")
    studies = {str(ds.StudyInstanceUID) for ds in images}
    if len(studies) != 1:
        raise ValueError(f"key images must belong to one study; got {len(studies)}")
    content = KeyObjectSelection(document_title=codes.DCM.OfInterest,
                                 referenced_objects=list(images),
                                 description=note or None)
    document = KeyObjectSelectionDocument(
        evidence=list(images), content=content, series_instance_uid=generate_uid(),
        series_number=series_number, sop_instance_uid=generate_uid(),
        instance_number=instance_number, manufacturer="workbench")
    if frames:
        _add_frames(document, frames)
    return document


def _add_frames(document: Dataset, frames: dict[str, Sequence[int]]) -> None:
    for item in document.ContentSequence:
        for ref in getattr(item, "ReferencedSOPSequence", []):
            wanted = frames.get(str(ref.ReferencedSOPInstanceUID))
            if wanted:
                ref.ReferencedFrameNumber = [int(f) for f in wanted]


def key_images(document: Dataset) -> KeyImageSelection:
    """The key images of a KOS document, with its note and title."""
    if str(document.SOPClassUID) != KOS_SOP_CLASS:
        raise ValueError(f"not a Key Object Selection document (SOPClassUID "
                         f"{document.SOPClassUID})")
    series_of: dict[str, str] = {}
    for study in getattr(document, "CurrentRequestedProcedureEvidenceSequence", []):
        for series in study.ReferencedSeriesSequence:
            for ref in series.ReferencedSOPSequence:
                series_of[str(ref.ReferencedSOPInstanceUID)] = str(series.SeriesInstanceUID)
    images: list[KeyImage] = []
    note = ""
    for item in getattr(document, "ContentSequence", []):
        if item.ValueType == "TEXT":
            note = str(item.TextValue)
        for ref in getattr(item, "ReferencedSOPSequence", []):
            frames = None
            if "ReferencedFrameNumber" in ref:
                element = ref["ReferencedFrameNumber"]
                values = element.value if element.VM > 1 else [element.value]
                frames = tuple(int(f) for f in values)
            uid = str(ref.ReferencedSOPInstanceUID)
            images.append(KeyImage(str(ref.ReferencedSOPClassUID), uid,
                                   series_of.get(uid, ""), frames))
    title = document.ConceptNameCodeSequence[0].CodeMeaning
    return KeyImageSelection(tuple(images), note, str(title))
