"""Masks as DICOM Segmentation (binary SEG, highdicom) and back into masks.

A mask follows :mod:`workbench.measure._grid`: a boolean DataArray with dims
``("z", "y", "x")`` aligned with the volume it was drawn on. Volumes built by
:func:`workbench.imaging.volume.series_volume` carry, along ``z``, the
``sop_instance_uid`` and (one-based) ``frame`` each slice came from; masks made from
them by :mod:`workbench.measure.segment` keep those coordinates. They say which source
image each mask slice belongs to, so the SEG references the source instances (or the
frames of one multi-frame source) frame by frame (PS3.3 C.8.20, Derivation Image
Sequence and Source Image Sequence written by highdicom).

:func:`segmentation` writes one segment (binary, one bit per pixel) with its label,
segmented property category and type, and the algorithm type (``MANUAL``,
``SEMIAUTOMATIC`` or ``AUTOMATIC``, with the algorithm's name and family when not
manual). :func:`read_segmentation` reads a segment back onto a volume of the same
source images: the same voxels, so the same voxel count and volume.
"""

from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
import numpy as np
import numpy.typing as npt
import xarray as xr
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

import workbench
from workbench.measure import _grid

__all__ = ["ALGORITHM_TYPES", "read_segmentation", "segment_labels", "segmentation"]

ALGORITHM_TYPES = ("MANUAL", "SEMIAUTOMATIC", "AUTOMATIC")
"""Segment Algorithm Type (0062,0008) defined terms."""


def segmentation(
    mask: xr.DataArray,
    source_images: Sequence[Dataset],
    *,
    label: str,
    algorithm_type: str = "SEMIAUTOMATIC",
    algorithm_name: str = "workbench region growing",
    algorithm_family: Code = codes.cid7162.NeighborhoodAnalysis,
    category: Code = codes.SCT.Tissue,
    property_type: Code = codes.SCT.Tissue,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    series_number: int = 9902,
    instance_number: int = 1,
    series_description: str = "Segmentation",
    manufacturer: str = "workbench",
) -> hd.seg.Segmentation:
    """Return a binary DICOM Segmentation of `mask`, referencing `source_images`.

    Parameters
    ----------
    mask
        Boolean DataArray ``("z", "y", "x")`` with ``sop_instance_uid`` (and, for a
        multi-frame source, ``frame``) coordinates along ``z``, as masks of volumes
        from :func:`~workbench.imaging.volume.series_volume` have.
    source_images
        The images the volume was built from (headers suffice; pixel data is not
        read): every instance a mask slice names, of one series.
    label
        Segment Label (0062,0005), e.g. ``"liver"``; at most 64 characters.
    algorithm_type
        One of :data:`ALGORITHM_TYPES`.
    algorithm_name, algorithm_family
        Segmentation Algorithm Identification (CID 7162 family) for algorithm types
        other than ``MANUAL``.
    category, property_type
        Segmented Property Category and Type codes (CID 7150 / 7151).
    series_instance_uid, sop_instance_uid
        UIDs of the new object; new ones when ``None``.
    series_number, instance_number, series_description, manufacturer
        Identification of the new series and instance.

    Raises
    ------
    ValueError
        `mask` is not a boolean ``("z", "y", "x")`` array, lacks the source
        coordinates, names an image absent from `source_images`, has another size
        than the images, or is empty; `label` or `algorithm_type` is invalid.

    Examples
    --------
    >>> from workbench.demo import DEMO_PATIENTS, ct_series
    >>> from workbench.imaging.volume import series_volume
    >>> from workbench.measure.segment import threshold
    >>> slices = ct_series(DEMO_PATIENTS[0], seed=1, n_slices=3, rows=16, columns=16)
    >>> mask = threshold(series_volume(slices), lower=0)
    >>> seg = segmentation(mask, slices, label="soft tissue")
    >>> seg.SegmentSequence[0].SegmentLabel, seg.SegmentationType
    ('soft tissue', 'BINARY')
    """
    values = _mask_values(mask)
    if not label or len(label) > 64 or "\\" in label:
        raise ValueError(f"SegmentLabel {label!r} must be 1 to 64 characters without '\\'")
    kind = algorithm_type.upper()
    if kind not in ALGORITHM_TYPES:
        raise ValueError(f"SegmentAlgorithmType {algorithm_type!r} is not one of "
                         f"{', '.join(ALGORITHM_TYPES)}")
    if not values.any():
        raise ValueError("the mask is empty: a segmentation needs at least one voxel")
    uids, frames = _sources(mask)
    by_uid = {str(ds.SOPInstanceUID): ds for ds in source_images}
    missing = sorted(set(uids) - by_uid.keys())
    if missing:
        raise ValueError(f"source image {missing[0]} of the mask is not in source_images")
    sources, pixels = _arrange(values, uids, frames, by_uid)
    rows, columns = int(sources[0].Rows), int(sources[0].Columns)
    if pixels.shape[1:] != (rows, columns):
        raise ValueError(f"mask slices of {pixels.shape[1:]} do not match the source images' "
                         f"Rows x Columns {rows} x {columns}")
    identification = None if kind == "MANUAL" else hd.AlgorithmIdentificationSequence(
        name=algorithm_name, family=algorithm_family, version=workbench.__version__)
    description = hd.seg.SegmentDescription(
        segment_number=1, segment_label=label, segmented_property_category=category,
        segmented_property_type=property_type, algorithm_type=kind,
        algorithm_identification=identification, tracking_uid=hd.UID(), tracking_id=label)
    return hd.seg.Segmentation(
        source_images=sources, pixel_array=pixels, segmentation_type="BINARY",
        segment_descriptions=[description],
        series_instance_uid=series_instance_uid or hd.UID(), series_number=series_number,
        sop_instance_uid=sop_instance_uid or hd.UID(), instance_number=instance_number,
        manufacturer=manufacturer, manufacturer_model_name="workbench",
        software_versions=workbench.__version__, device_serial_number="0",
        series_description=series_description, content_label="SEGMENTATION",
        content_description=label[:64],
    )


def segment_labels(seg: Dataset) -> dict[int, str]:
    """Return Segment Label by Segment Number of a DICOM Segmentation.

    Raises
    ------
    ValueError
        `seg` has no Segment Sequence (it is not a Segmentation).
    """
    segments = seg.get("SegmentSequence")
    if not segments:
        raise ValueError("the dataset has no SegmentSequence: it is not a Segmentation")
    return {int(s.SegmentNumber): str(s.get("SegmentLabel", "")) for s in segments}


def read_segmentation(
    seg: Dataset, volume: xr.DataArray, *, segment: int | str | None = None
) -> xr.DataArray:
    """Return one segment of `seg` as a boolean mask aligned with `volume`.

    Parameters
    ----------
    seg
        A DICOM Segmentation (binary or fractional; fractional values above one
        half count as inside).
    volume
        The volume of the segmentation's source images, with ``sop_instance_uid``
        (and ``frame``) coordinates along ``z``, as
        :func:`~workbench.imaging.volume.series_volume` builds it.
    segment
        Segment Number, or Segment Label; may be omitted when there is one segment.

    Raises
    ------
    ValueError
        `seg` is not a Segmentation, the segment is not found (or not named when there
        are several), or the segmentation does not refer to the volume's images.
    """
    labels = segment_labels(seg)
    number = _segment_number(labels, segment)
    uids, frames = _sources(volume)
    document = hd.seg.Segmentation.from_dataset(seg, copy=True)
    try:
        if len(set(uids)) == 1 and len(uids) > 1:
            pixels = document.get_pixels_by_source_frame(
                uids[0], source_frame_numbers=frames, segment_numbers=[number],
                rescale_fractional=True, dtype=np.float32)
        else:
            pixels = document.get_pixels_by_source_instance(
                uids, segment_numbers=[number], rescale_fractional=True, dtype=np.float32)
    except (KeyError, ValueError, RuntimeError) as exc:
        raise ValueError(f"the segmentation does not refer to the volume's images: {exc}"
                         ) from None
    plane = pixels[..., 0]
    if plane.shape != volume.shape:
        raise ValueError(f"segment of shape {plane.shape} does not fit the volume "
                         f"{volume.shape}")
    return _grid.like(volume, np.asarray(plane > 0.5), labels[number] or f"segment {number}")


def _mask_values(mask: xr.DataArray) -> npt.NDArray[np.bool_]:
    if tuple(mask.dims) != _grid.DIMS:
        raise ValueError(f"a mask has dims {_grid.DIMS}, got {tuple(mask.dims)}")
    if mask.dtype != np.bool_:
        raise ValueError(f"a mask is boolean, got {mask.dtype}")
    return np.asarray(mask.values)


def _sources(array: xr.DataArray) -> tuple[list[str], list[int]]:
    """Source SOP Instance UID and one-based frame of every slice along ``z``."""
    if "sop_instance_uid" not in array.coords:
        raise ValueError("the mask has no sop_instance_uid coordinate along z: build the "
                         "volume with workbench.imaging.volume.series_volume")
    uids = [str(u) for u in np.atleast_1d(array.coords["sop_instance_uid"].values)]
    if "frame" in array.coords:
        frames = [int(f) for f in np.atleast_1d(array.coords["frame"].values)]
    else:
        frames = [1] * len(uids)
    if len(uids) != array.sizes["z"]:
        raise ValueError("sop_instance_uid must be a coordinate along z")
    return uids, frames


def _arrange(values: npt.NDArray[np.bool_], uids: list[str], frames: list[int],
             by_uid: dict[str, Dataset]) -> tuple[list[Dataset], npt.NDArray[np.uint8]]:
    """Source images in the order highdicom pairs them with the returned frames."""
    if len(set(uids)) == 1 and len(uids) > 1:  # the frames of one multi-frame image
        source = by_uid[uids[0]]
        count = int(source.get("NumberOfFrames") or 1)
        if any(not 1 <= f <= count for f in frames):
            raise ValueError(f"a mask frame lies outside 1..{count} (NumberOfFrames)")
        pixels = np.zeros((count, *values.shape[1:]), dtype=np.uint8)
        pixels[[f - 1 for f in frames]] = values
        return [source], pixels
    if len(set(uids)) != len(uids):
        raise ValueError("two mask slices name the same single-frame source image")
    return [by_uid[u] for u in uids], values.astype(np.uint8)


def _segment_number(labels: dict[int, str], segment: int | str | None) -> int:
    if segment is None:
        if len(labels) != 1:
            raise ValueError(f"the segmentation has {len(labels)} segments "
                             f"({', '.join(map(repr, labels.values()))}): name one")
        return next(iter(labels))
    if isinstance(segment, int):
        if segment not in labels:
            raise ValueError(f"no segment number {segment} (there are {sorted(labels)})")
        return segment
    found = [n for n, name in labels.items() if name == segment]
    if len(found) != 1:
        raise ValueError(f"{len(found)} segments are labelled {segment!r}")
    return found[0]
