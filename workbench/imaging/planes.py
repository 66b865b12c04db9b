"""Plane geometry and pixel spacing read from datasets, frame by frame.

Sources, in order of precedence: the frame's item of the Per-frame Functional Groups
Sequence, the Shared Functional Groups Sequence (enhanced multi-frame, PS3.3
C.7.6.16.2: Pixel Measures, Plane Position (Patient), Plane Orientation (Patient)),
the top-level Image Plane module (C.7.6.2), and for NM multi-frame images the
Detector Information Sequence (C.8.4.11) with Spacing Between Slices. Frame numbers
are one-based; coordinates follow :mod:`workbench.imaging.geometry` (LPS mm).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from workbench.errors import MissingAttributeError
from workbench.imaging._dataset import first_float, functional_group
from workbench.imaging.geometry import PlaneGeometry, Vector, VolumeGeometry, orthonormal_cosines

__all__ = ["PixelSpacing", "pixel_spacing", "plane_geometry", "stack_planes"]

_MAGNIFIED = "ImagerPixelSpacing corrected by EstimatedRadiographicMagnificationFactor"
_US_CM = 3  # Physical Units X/Y Direction 3: cm (PS3.3 C.8.5.5.1.15)


@dataclass(frozen=True)
class PixelSpacing:
    """Physical size of a pixel and where it came from (PS3.3 10.7.1.3).

    Attributes
    ----------
    row, column
        mm between the centres of adjacent rows and of adjacent columns; 1.0 when
        uncalibrated.
    source
        ``"PixelMeasuresSequence"``, ``"PixelSpacing"``, ``"ImagerPixelSpacing
        corrected by EstimatedRadiographicMagnificationFactor"``,
        ``"ImagerPixelSpacing"`` (at the detector, not the patient),
        ``"NominalScannedPixelSpacing"``, ``"SequenceOfUltrasoundRegions"`` or
        ``"none"``.
    """

    row: float
    column: float
    source: str

    @property
    def calibrated(self) -> bool:
        """Whether the spacing is known (coordinates in mm rather than pixels)."""
        return self.source != "none"


def pixel_spacing(ds: Dataset, frame: int = 1) -> PixelSpacing:
    """Return the pixel spacing of frame `frame` (one-based) and its source.

    Precedence: Pixel Measures Sequence (per-frame, then shared), Pixel Spacing,
    Imager Pixel Spacing divided by Estimated Radiographic Magnification Factor
    (the patient plane of a projection image), Imager Pixel Spacing, Nominal Scanned
    Pixel Spacing, the first 2D ultrasound region calibrated in cm (Physical Delta
    Y/X, converted to mm), else ``(1.0, 1.0, "none")``.
    """
    measures = functional_group(ds, frame, "PixelMeasuresSequence")
    measured = None if measures is None else _pair(measures.get("PixelSpacing"))
    if measured:
        return PixelSpacing(*measured, "PixelMeasuresSequence")
    for keyword in ("PixelSpacing", "ImagerPixelSpacing", "NominalScannedPixelSpacing"):
        pair = _pair(ds.get(keyword))
        if not pair:
            continue
        factor = first_float(ds.get("EstimatedRadiographicMagnificationFactor"))
        if keyword == "ImagerPixelSpacing" and factor and factor > 0:
            return PixelSpacing(pair[0] / factor, pair[1] / factor, _MAGNIFIED)
        return PixelSpacing(*pair, keyword)
    for region in ds.get("SequenceOfUltrasoundRegions") or ():
        units = (region.get("PhysicalUnitsYDirection"), region.get("PhysicalUnitsXDirection"))
        dy, dx = (
            first_float(region.get("PhysicalDeltaY")),
            first_float(region.get("PhysicalDeltaX")),
        )
        if region.get("RegionSpatialFormat") == 1 and units == (_US_CM, _US_CM) and dy and dx:
            return PixelSpacing(abs(dy) * 10.0, abs(dx) * 10.0, "SequenceOfUltrasoundRegions")
    return PixelSpacing(1.0, 1.0, "none")


def plane_geometry(ds: Dataset, frame: int = 1) -> PlaneGeometry:
    """Return where frame `frame` (one-based) of `ds` lies in patient space.

    For NM multi-frame images the Detector Information Sequence gives the plane of
    slice 1, and a frame whose Slice Vector value is ``s`` lies ``(s - 1) *
    SpacingBetweenSlices`` (else Slice Thickness) further along the normal; frames
    without a Slice Vector (planar, dynamic) all lie in that plane.

    Raises
    ------
    MissingAttributeError
        No Image Position / Orientation (Patient) for the frame (a projection
        image, a cine loop), or no Pixel Spacing.
    ValueError
        Malformed orientation (names ImageOrientationPatient).
    """
    position = functional_group(ds, frame, "PlanePositionSequence")
    orientation = functional_group(ds, frame, "PlaneOrientationSequence")
    ipp = (position or ds).get("ImagePositionPatient")
    iop = (orientation or ds).get("ImageOrientationPatient")
    offset = 0.0
    detectors = ds.get("DetectorInformationSequence")
    if (ipp is None or iop is None) and detectors and str(ds.get("Modality")) == "NM":
        ipp = detectors[0].get("ImagePositionPatient")
        iop = detectors[0].get("ImageOrientationPatient")
        step = (
            first_float(ds.get("SpacingBetweenSlices"))
            or first_float(ds.get("SliceThickness"))
            or 1.0
        )
        slices = ds.get("SliceVector")
        if slices is not None and 1 <= frame <= len(slices):
            offset = (int(slices[frame - 1]) - 1) * step
    if ipp is None or len(ipp) != 3:
        raise MissingAttributeError("ImagePositionPatient")
    if iop is None:
        raise MissingAttributeError("ImageOrientationPatient")
    spacing = pixel_spacing(ds, frame)
    if not spacing.calibrated:
        raise MissingAttributeError("PixelSpacing")
    row, col = orthonormal_cosines(list(iop))
    normal = np.cross(row, col)
    origin = np.asarray([float(v) for v in ipp]) + offset * normal
    x, y, z = (float(v) for v in origin)
    rows, columns = int(ds.Rows), int(ds.Columns)
    return PlaneGeometry((x, y, z), row, col, (spacing.row, spacing.column), rows, columns)


def stack_planes(
    planes: Sequence[PlaneGeometry], *, slice_thickness: float = 1.0, tolerance: float = 0.01
) -> tuple[VolumeGeometry, tuple[int, ...]]:
    """Sort parallel planes along their normal and return the volume and the order.

    The order lists indices into `planes`, by increasing projection of the origin on
    the normal of the first plane (file names and Instance Numbers play no part).

    Raises
    ------
    ValueError
        No planes; orientations differing by more than about 0.5 degrees (names
        ImageOrientationPatient); sizes or spacings that differ (names Rows/Columns
        or PixelSpacing); two planes at the same position (names
        ImagePositionPatient).
    """
    if not planes:
        raise ValueError("no image planes to stack")
    first = planes[0]
    for plane in planes[1:]:
        if (plane.rows, plane.columns) != (first.rows, first.columns):
            raise ValueError(f"Rows/Columns differ: {plane.rows}x{plane.columns} and "
                             f"{first.rows}x{first.columns}")  # fmt: skip
        if not np.allclose(plane.spacing, first.spacing, rtol=1e-4, atol=1e-5):
            raise ValueError(f"PixelSpacing differs: {plane.spacing} and {first.spacing}")
        cosines = np.asarray([plane.row_cosine, plane.column_cosine])
        if np.abs(cosines - np.asarray([first.row_cosine, first.column_cosine])).max() > 0.01:
            raise ValueError(
                "ImageOrientationPatient differs between images: not one volume "
                f"({plane.row_cosine + plane.column_cosine} and "
                f"{first.row_cosine + first.column_cosine})"
            )
    normal = np.asarray(first.normal)
    distances = [float(np.asarray(p.origin) @ normal) for p in planes]
    order = tuple(int(i) for i in np.argsort(distances, kind="stable"))
    origins: tuple[Vector, ...] = tuple(planes[i].origin for i in order)
    geometry = VolumeGeometry(origins, first.row_cosine, first.column_cosine, first.spacing,
                              first.rows, first.columns, slice_thickness, tolerance)  # fmt: skip
    return geometry, order


# -- helpers -------------------------------------------------------------------------


def _pair(value: Any) -> tuple[float, float] | None:
    if not isinstance(value, MultiValue | list | tuple) or len(value) != 2:
        return None
    first, second = first_float(value[0]), first_float(value[1])
    if first is None or second is None or first <= 0 or second <= 0:
        return None
    return first, second
