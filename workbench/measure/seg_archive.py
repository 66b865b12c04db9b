"""DICOM Segmentations through an archive: store a mask's SEG, find a study's SEGs, read them.

Everything goes through an :class:`~workbench.dicomweb.client_base.ArchiveClient`
(STOW-RS, QIDO-RS, WADO-RS), so it works against this workbench's archive, any other
DICOMweb PACS, or a local folder. SEG instances are found with a series-level query
``Modality=SEG`` in the study, then the instances of each such series (a query every
DICOMweb archive answers). Reading them back onto a volume goes through
:func:`workbench.measure.seg.read_segmentation`: masks aligned with the volume, voxel
for voxel.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO

import xarray as xr
from pydicom import dcmread
from pydicom.dataset import Dataset

from workbench.dicomweb.client_base import ArchiveClient
from workbench.errors import WorkbenchError
from workbench.measure._dicomjson import json_text
from workbench.measure.seg import read_segmentation, segment_labels

__all__ = [
    "ArchivedMask",
    "ArchivedSegmentation",
    "find_segmentations",
    "read_archived_masks",
    "retrieve_segmentation",
    "store_segmentation",
]

SEGMENTATION_MODALITY = "SEG"


@dataclass(frozen=True)
class ArchivedSegmentation:
    """Where a SEG instance is on an archive."""

    study_uid: str
    series_uid: str
    sop_instance_uid: str


@dataclass(frozen=True)
class ArchivedMask:
    """One segment of an archived SEG, read onto a volume.

    Attributes
    ----------
    segmentation
        The SEG instance it comes from.
    segment_number, label
        Segment Number (0062,0004) and Segment Label (0062,0005).
    mask
        Boolean DataArray aligned with the volume it was read onto.
    """

    segmentation: ArchivedSegmentation
    segment_number: int
    label: str
    mask: xr.DataArray


def store_segmentation(client: ArchiveClient, seg: Dataset) -> ArchivedSegmentation:
    """Store a SEG (e.g. from :func:`~workbench.measure.seg.segmentation`) over STOW-RS.

    Raises
    ------
    ValueError
        `seg` is not a Segmentation (no Segment Sequence) or lacks its UIDs.
    WorkbenchError
        The archive refused it (the message gives the archive's reason), or any error
        of the client (unreachable archive, permission denied).
    """
    segment_labels(seg)
    try:
        reference = ArchivedSegmentation(str(seg.StudyInstanceUID), str(seg.SeriesInstanceUID),
                                         str(seg.SOPInstanceUID))
    except AttributeError as exc:
        raise ValueError(f"the segmentation lacks a UID: {exc}") from None
    result = client.store_instances([seg], study_uid=reference.study_uid)
    if not result.ok or reference.sop_instance_uid not in result.stored:
        reasons = "; ".join(f"{uid}: 0x{code:04X} {text}".strip()
                            for uid, code, text in result.failed) or "not reported as stored"
        raise WorkbenchError(f"the archive did not store SEG {reference.sop_instance_uid} "
                             f"(HTTP {result.status}): {reasons}")
    return reference


def find_segmentations(client: ArchiveClient, study_uid: str) -> list[ArchivedSegmentation]:
    """Return the SEG instances of a study (QIDO-RS ``Modality=SEG``), by series then UID."""
    found = []
    series = client.search_for_series(study_uid, match={"Modality": SEGMENTATION_MODALITY})
    for item in series:
        series_uid = json_text(item, "SeriesInstanceUID")
        if not series_uid or json_text(item, "Modality").upper() != SEGMENTATION_MODALITY:
            continue
        for instance in client.search_for_instances(study_uid, series_uid):
            sop_uid = json_text(instance, "SOPInstanceUID")
            if sop_uid:
                found.append(ArchivedSegmentation(study_uid, series_uid, sop_uid))
    return sorted(found, key=lambda s: (s.series_uid, s.sop_instance_uid))


def retrieve_segmentation(client: ArchiveClient, reference: ArchivedSegmentation) -> Dataset:
    """Retrieve a SEG instance (WADO-RS) as a dataset.

    Raises
    ------
    ValueError
        The instance is not a Segmentation.
    """
    data = client.retrieve_instance(reference.study_uid, reference.series_uid,
                                    reference.sop_instance_uid)
    seg = dcmread(BytesIO(data))
    segment_labels(seg)
    return seg


def read_archived_masks(client: ArchiveClient, study_uid: str, volume: xr.DataArray
                        ) -> list[ArchivedMask]:
    """Read every segment of the study's SEGs that refer to `volume`'s series onto it.

    Parameters
    ----------
    client
        The archive.
    study_uid
        The study whose SEGs to read.
    volume
        A volume from :func:`~workbench.imaging.volume.series_volume` (it carries
        ``attrs["series_instance_uid"]`` and the ``sop_instance_uid`` coordinate).

    Returns
    -------
    list of ArchivedMask
        One per segment, in the order of :func:`find_segmentations` then Segment
        Number. SEGs of other series are left out.

    Raises
    ------
    ValueError
        A SEG referring to the volume's series does not fit the volume (the message
        names the SEG).
    """
    series_uid = str(volume.attrs.get("series_instance_uid", ""))
    if not series_uid:
        raise ValueError('the volume has no attrs["series_instance_uid"]: build it with '
                         "workbench.imaging.volume.series_volume")
    masks = []
    for reference in find_segmentations(client, study_uid):
        seg = retrieve_segmentation(client, reference)
        if series_uid not in _referenced_series(seg):
            continue
        for number, label in sorted(segment_labels(seg).items()):
            try:
                mask = read_segmentation(seg, volume, segment=number)
            except ValueError as exc:
                raise ValueError(f"SEG {reference.sop_instance_uid} segment {number}: {exc}"
                                 ) from None
            masks.append(ArchivedMask(reference, number, label, mask))
    return masks


def _referenced_series(seg: Dataset) -> set[str]:
    """Series Instance UIDs in the SEG's Referenced Series Sequence (and Source Images)."""
    found = {str(item.get("SeriesInstanceUID", ""))
             for item in seg.get("ReferencedSeriesSequence", [])}
    for study in seg.get("StudiesContainingOtherReferencedInstancesSequence", []):
        found |= {str(item.get("SeriesInstanceUID", ""))
                  for item in study.get("ReferencedSeriesSequence", [])}
    return found - {""}
