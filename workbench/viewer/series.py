"""What a viewer needs to show one series, read from its DICOM JSON metadata.

:func:`describe_series` turns the WADO-RS metadata of a series (PS3.18 10.4.1.2; no
pixels) into a :class:`SeriesDisplay`: which viewer opens it (:class:`SeriesKind`),
its frames in display order, how their pixels are laid out, the modality LUT of each
frame, window presets, pixel spacing, frame times, orientation markers and overlay
text. Every value comes from :mod:`workbench.imaging`, so the browser, ``/rendered``
and the measurements agree. The browser fetches the pixels itself
(``.../frames/{n}``, one-based frame numbers) and :meth:`SeriesDisplay.to_js`
describes them for it.

Order of frames: by position along the slice normal when every frame has an image
plane and the planes stack (:func:`workbench.imaging.planes.stack_planes`), otherwise
by Instance Number, then frame number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from workbench.dicom.frames import number_of_frames
from workbench.dicom.json_model import json_to_dataset
from workbench.errors import WorkbenchError
from workbench.imaging.cine import frame_times
from workbench.imaging.geometry import VolumeGeometry
from workbench.imaging.lut import modality_units, rescale_from_dataset, window_from_dataset
from workbench.imaging.planes import pixel_spacing, plane_geometry, stack_planes
from workbench.imaging.presets import WindowPreset, dataset_presets, presets_for
from workbench.viewer.display import Frame, PixelFormat, SeriesDisplay, SeriesKind
from workbench.viewer.labels import markers_from_dataset, overlay_text
from workbench.viewer.mpr import reformat_planes

__all__ = ["ENCAPSULATED_PDF", "Frame", "PixelFormat", "SeriesDisplay", "SeriesKind",
           "describe_series"]  # fmt: skip

ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
"""Encapsulated PDF Storage SOP Class UID (PS3.4 B.5)."""
_ENCAPSULATED = "1.2.840.10008.5.1.4.1.1.104."
_WAVEFORM = "1.2.840.10008.5.1.4.1.1.9."
_CINE_MODALITIES = frozenset({"US", "XA", "RF", "ES", "IVUS", "XC"})


def _dataset(item: Mapping[str, Any], shared: dict[Any, Any]) -> Dataset:
    """The header of one instance (elements alike in several instances are converted
    once: `shared`); an image whose metadata left Pixel Data out gets an empty one, so
    that frame counts read Number of Frames as for a whole file."""
    ds = json_to_dataset(item, shared)
    if "Rows" in ds and not any(k in ds for k in ("PixelData", "FloatPixelData",
                                                  "DoubleFloatPixelData")):
        ds.PixelData = b""
    return ds


def _kind(ds: Dataset) -> SeriesKind:
    sop_class = str(ds.get("SOPClassUID") or "")
    if sop_class == ENCAPSULATED_PDF:
        return SeriesKind.PDF
    if sop_class.startswith(_ENCAPSULATED):
        return SeriesKind.DOCUMENT
    if sop_class.startswith(_WAVEFORM) or "WaveformSequence" in ds:
        return SeriesKind.WAVEFORM
    if "Rows" not in ds or "Columns" not in ds:
        return SeriesKind.OTHER
    modality = str(ds.get("Modality") or "").upper()
    timed = modality in _CINE_MODALITIES or frame_times(ds)[0] is not None
    if number_of_frames(ds) > 1 and timed:
        return SeriesKind.CINE
    return SeriesKind.IMAGE


def _format(ds: Dataset) -> PixelFormat:
    samples = int(ds.get("SamplesPerPixel") or 1)
    photometric = str(ds.get("PhotometricInterpretation") or "MONOCHROME2").strip().upper()
    allocated = int(ds.get("BitsAllocated") or 16)
    return PixelFormat(int(ds.Rows), int(ds.Columns), samples, photometric, allocated,
                       int(ds.get("BitsStored") or allocated),
                       int(ds.get("PixelRepresentation") or 0),
                       int(ds.get("PlanarConfiguration") or 0))


def _instance_number(ds: Dataset) -> int:
    try:
        return int(ds.get("InstanceNumber") or 0)
    except (TypeError, ValueError):
        return 0


def _image_frames(datasets: Sequence[Dataset]
                  ) -> tuple[list[Frame], list[PixelFormat], list[str], VolumeGeometry | None]:
    """Frames of the image instances in display order, their formats, warnings, and
    the volume they stack to (None when they do not)."""
    formats: list[PixelFormat] = []
    entries: list[tuple[Dataset, int, Frame]] = []
    for ds in sorted(datasets, key=lambda d: (_instance_number(d), str(d.SOPInstanceUID))):
        fmt = _format(ds)
        if fmt not in formats:
            formats.append(fmt)
        for number in range(1, max(number_of_frames(ds), 1) + 1):
            slope, intercept = rescale_from_dataset(ds, number)
            entries.append((ds, number, Frame(str(ds.SOPInstanceUID), number,
                                              formats.index(fmt), slope, intercept)))
    try:
        planes = [plane_geometry(ds, number) for ds, number, _ in entries]
        geometry, order = stack_planes(planes)
    except (WorkbenchError, ValueError, AttributeError):
        return [frame for _, _, frame in entries], formats, [], None
    if len(entries) > 1 and len({p.origin for p in planes}) < len(planes):
        return [frame for _, _, frame in entries], formats, [], None
    normal = np.asarray(geometry.normal)
    frames = []
    for k in order:
        frame = entries[k][2]
        location = float(np.asarray(planes[k].origin) @ normal)
        frames.append(Frame(frame.sop_uid, frame.number, frame.format, frame.slope,
                            frame.intercept, round(location, 3)))
    return frames, formats, list(geometry.warnings), geometry


def describe_series(metadata: Sequence[Mapping[str, Any]]) -> SeriesDisplay:
    """Describe a series for display from its instances' DICOM JSON metadata.

    Parameters
    ----------
    metadata
        WADO-RS series metadata: one DICOM JSON object per instance (bulk data as
        BulkDataURIs or inline; pixels are not needed).

    Returns
    -------
    SeriesDisplay
        Frames in display order with the first instance's presets, window, spacing,
        frame times, markers and overlay.

    Raises
    ------
    ValueError
        No instances, or instances of several series (names SeriesInstanceUID).
    """
    if not metadata:
        raise ValueError("no instances in the series metadata")
    shared: dict[Any, Any] = {}
    datasets = [_dataset(item, shared) for item in metadata]
    series_uids = {str(ds.get("SeriesInstanceUID") or "") for ds in datasets}
    if len(series_uids) != 1:
        raise ValueError(f"SeriesInstanceUID differs between instances: {sorted(series_uids)}")
    kinds = [_kind(ds) for ds in datasets]
    # A series mixing kinds shows its most common one (e.g. images with a stray SR).
    kind = max(set(kinds), key=kinds.count)
    chosen = [ds for ds, k in zip(datasets, kinds, strict=True) if k == kind]
    first = chosen[0]
    number = first.get("SeriesNumber")
    common: dict[str, Any] = {
        "study_uid": str(first.get("StudyInstanceUID") or ""),
        "series_uid": series_uids.pop(),
        "modality": str(first.get("Modality") or ""),
        "kind": kind,
        "description": str(first.get("SeriesDescription") or ""),
        "number": int(number) if number not in (None, "") else None,
        "overlay": overlay_text(first),
    }
    if kind in (SeriesKind.PDF, SeriesKind.DOCUMENT):
        uri = metadata[datasets.index(first)].get("00420011", {}).get("BulkDataURI")
        frames = tuple(Frame(str(ds.SOPInstanceUID), 1) for ds in chosen)
        mime = str(first.get("MIMETypeOfEncapsulatedDocument") or "").strip()
        if not mime:
            mime = "application/pdf" if kind is SeriesKind.PDF else "application/octet-stream"
        return SeriesDisplay(**common, frames=frames, bulkdata=uri, mime_type=mime)
    if kind in (SeriesKind.WAVEFORM, SeriesKind.OTHER):
        return SeriesDisplay(**common, frames=tuple(Frame(str(ds.SOPInstanceUID), 1)
                                                     for ds in chosen))
    ordered, formats, warnings, geometry = _image_frames(chosen)
    planes = {}
    if geometry is not None and len(formats) == 1 and formats[0].samples == 1:
        planes = reformat_planes(geometry)
    found = window_from_dataset(first)
    window = None if found is None else WindowPreset("dataset", *found)
    named = dataset_presets(first) + presets_for(common["modality"])
    times, source = frame_times(first) if kind is SeriesKind.CINE else (None, "none")
    thickness = first.get("SliceThickness")
    return SeriesDisplay(
        **common, frames=tuple(ordered), formats=tuple(formats), presets=named,
        window=window, units=modality_units(first), spacing=pixel_spacing(first),
        slice_thickness=float(thickness) if thickness not in (None, "") else None,
        frame_times=None if times is None else tuple(float(t) for t in times),
        frame_time_source=source, markers=markers_from_dataset(first),
        warnings=tuple(warnings), planes=planes, geometry=geometry)

