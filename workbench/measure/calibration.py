"""Which physical size a pixel has, decided once and carried by every result.

:func:`calibration_from_dataset` applies these rules, first match wins (PS3.3 10.7.1,
C.7.6.2.1.1, C.8.11.4, C.8.5.5):

1. **Ultrasound regions** (0018,6011): the region containing every point of the
   measurement gives Physical Delta X/Y in cm, converted to mm
   (:attr:`CalibrationKind.ULTRASOUND_REGION`). Points across a region border are an
   error; a region that is not 2-D in cm (M-mode, Doppler) cannot measure lengths.
   Points outside every region fall through to the rules below.
2. **Pixel Spacing** (0028,0030), per frame from the Pixel Measures functional group
   where present (a zero spacing, which some modalities write for "unknown", counts
   as absent). With (0028,0A02) Pixel Spacing Calibration Type ``GEOMETRY`` or
   ``FIDUCIAL`` it is a calibrated projection spacing (kind of the same name).
   Without Imager Pixel Spacing it is the spacing in the patient of a cross-sectional
   image (:attr:`~CalibrationKind.PIXEL_SPACING`). When it differs from Imager Pixel
   Spacing the modality corrected it, method unstated
   (:attr:`~CalibrationKind.CALIBRATED`); when equal, rule 3 applies.
3. **Imager Pixel Spacing** (0018,1164), the spacing at the detector: divided by
   (0018,1114) Estimated Radiographic Magnification Factor when present
   (:attr:`~CalibrationKind.MAGNIFICATION_CORRECTED`, the size at the object), else
   as is (:attr:`~CalibrationKind.DETECTOR`: objects appear magnified).
4. **Nominal Scanned Pixel Spacing** (0018,2010) of digitised film
   (:attr:`~CalibrationKind.SCANNED`).
5. Nothing applies: lengths in pixels (:data:`UNCALIBRATED`).

:func:`user_calibration` replaces all of these with a known length drawn by the user.
Spacings are ``(between rows, between columns)``, as Pixel Spacing lists them; a
row spacing scales row differences, a column spacing column differences.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from workbench.measure.reference import Point, as_point, as_points
from workbench.measure.ultrasound import UltrasoundRegion, region_for_points, ultrasound_regions
from workbench.measure.units import MILLIMETRE, PIXEL, area_unit

__all__ = [
    "UNCALIBRATED",
    "Calibration",
    "CalibrationKind",
    "calibration_from_dataset",
    "user_calibration",
]


class CalibrationKind(StrEnum):
    """Where a calibration comes from; values are at most 16 characters (DICOM SH)."""

    PIXEL_SPACING = "PIXEL_SPACING"
    """Pixel Spacing of a cross-sectional image: mm in the patient."""
    GEOMETRY = "GEOMETRY"
    """Pixel Spacing with Pixel Spacing Calibration Type GEOMETRY."""
    FIDUCIAL = "FIDUCIAL"
    """Pixel Spacing with Pixel Spacing Calibration Type FIDUCIAL."""
    CALIBRATED = "CALIBRATED"
    """Projection Pixel Spacing that differs from Imager Pixel Spacing, type unstated."""
    MAGNIFICATION_CORRECTED = "ERMF"
    """Imager Pixel Spacing / Estimated Radiographic Magnification Factor."""
    DETECTOR = "DETECTOR"
    """Imager Pixel Spacing: mm at the detector, not in the patient."""
    SCANNED = "SCANNED"
    """Nominal Scanned Pixel Spacing: mm on the digitised film."""
    ULTRASOUND_REGION = "US_REGION"
    """Physical Delta X/Y of one ultrasound region (cm, converted to mm)."""
    USER = "USER"
    """A known length drawn by the user."""
    VOLUME = "VOLUME"
    """Voxel spacing of a volume's affine (slice, row and column)."""
    PIXELS = "PIXELS"
    """No calibration: lengths in pixels."""


@dataclass(frozen=True)
class Calibration:
    """Physical size of a pixel (or voxel) and where it came from.

    Attributes
    ----------
    kind
        The rule that gave the spacing (:class:`CalibrationKind`).
    row_spacing, column_spacing
        Distance between the centres of adjacent rows and of adjacent columns, in
        `unit` (1.0 for :data:`UNCALIBRATED`).
    unit
        ``"mm"``, or ``"px"`` for :attr:`CalibrationKind.PIXELS`.
    slice_spacing
        Distance between slice centres for volumes, else ``None``.
    detail
        Human-readable provenance (attribute values, region number); not compared.

    Examples
    --------
    >>> cal = Calibration(CalibrationKind.PIXEL_SPACING, 0.5, 0.25, "mm")
    >>> cal.distance((0.0, 0.0), (4.0, 0.0)), cal.area_unit
    (2.0, 'mm2')
    """

    kind: CalibrationKind
    row_spacing: float
    column_spacing: float
    unit: str
    slice_spacing: float | None = None
    detail: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        spacings = [self.row_spacing, self.column_spacing]
        spacings += [] if self.slice_spacing is None else [self.slice_spacing]
        if not all(math.isfinite(s) and s > 0 for s in spacings):
            raise ValueError(f"spacings must be positive and finite, got {spacings}")
        if (self.kind == CalibrationKind.PIXELS) != (self.unit == PIXEL):
            raise ValueError(f"unit {self.unit!r} does not fit calibration {self.kind}")

    @property
    def calibrated(self) -> bool:
        """Whether lengths are physical (mm) rather than pixels."""
        return self.kind != CalibrationKind.PIXELS

    @property
    def area_unit(self) -> str:
        """Unit of areas: ``"mm2"`` or ``"px2"``."""
        return area_unit(self.unit)

    @property
    def pixel_area(self) -> float:
        """Area of one pixel in :attr:`area_unit`."""
        return self.row_spacing * self.column_spacing

    def scale(self, points: Sequence[Point]) -> npt.NDArray[np.float64]:
        """Return `points` as an ``(n, 2)`` array of physical ``(row, col)`` offsets."""
        array = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        return np.asarray(array * np.array([self.row_spacing, self.column_spacing]))

    def distance(self, p0: Point, p1: Point) -> float:
        """Distance between ``(row, col)`` points, in :attr:`unit`."""
        return math.hypot((p1[0] - p0[0]) * self.row_spacing, (p1[1] - p0[1]) * self.column_spacing)


UNCALIBRATED = Calibration(CalibrationKind.PIXELS, 1.0, 1.0, PIXEL, detail="no calibration")
"""Lengths in pixels: nothing in the image says how large a pixel is."""


def calibration_from_dataset(
    ds: Dataset, points: Sequence[Sequence[float]] | None = None, *, frame: int = 1
) -> Calibration:
    """Return the calibration of measurements on frame `frame` (one-based) of `ds`.

    Parameters
    ----------
    ds
        The image's header (pixel data not needed).
    points
        The measurement's ``(row, col)`` points (or its outline's bounding corners);
        they choose the ultrasound region. Without points, an image with regions
        uses its only spatial region (an error when it has several with different
        deltas).
    frame
        One-based frame number, for per-frame Pixel Measures.

    Returns
    -------
    Calibration
        See the module docstring for the rules.

    Raises
    ------
    ValueError
        Points across an ultrasound region border, or inside a region that is not
        2-D in cm; several spatial regions and no points; a malformed spacing (the
        message names the attribute).
    """
    regions = ultrasound_regions(ds)
    if regions:
        found = _from_regions(regions, points)
        if found is not None:
            return found
    return _from_spacing(ds, frame)


def user_calibration(
    p0: Sequence[float],
    p1: Sequence[float],
    known_length: float,
    *,
    base: Calibration = UNCALIBRATED,
) -> Calibration:
    """Return the calibration that makes the line `p0`-`p1` `known_length` mm long.

    The aspect ratio of `base` is kept (square pixels when uncalibrated); both
    spacings are scaled by the same factor.

    Examples
    --------
    >>> user_calibration((0, 0), (0, 40), 10.0).column_spacing
    0.25
    """
    a, b = as_point(p0), as_point(p1)
    if not (math.isfinite(known_length) and known_length > 0):
        raise ValueError(f"the known length must be positive, got {known_length}")
    drawn = base.distance(a, b)
    if drawn == 0:
        raise ValueError("the calibration line has zero length")
    factor = known_length / drawn
    return Calibration(
        CalibrationKind.USER,
        base.row_spacing * factor,
        base.column_spacing * factor,
        MILLIMETRE,
        detail=f"user: {known_length:g} mm over {drawn:g} {base.unit} ({base.kind})",
    )


def _from_regions(
    regions: Sequence[UltrasoundRegion], points: Sequence[Sequence[float]] | None
) -> Calibration | None:
    if points is None:
        spatial = {(r.delta_y, r.delta_x): r for r in regions if r.is_spatial}
        if len(spatial) > 1:
            raise ValueError(
                "SequenceOfUltrasoundRegions has several spatial regions; pass the points"
            )
        region = next(iter(spatial.values()), None)
    else:
        region = region_for_points(regions, as_points(points))
        if region is not None and not region.is_spatial:
            raise ValueError(
                f"SequenceOfUltrasoundRegions item {region.index} is not a 2-D region in cm "
                f"(units {region.x_unit or 'none'} x {region.y_unit or 'none'}); "
                "lengths cannot be measured there"
            )
    if region is None:
        return None
    return Calibration(
        CalibrationKind.ULTRASOUND_REGION,
        abs(region.delta_y) * 10.0,
        abs(region.delta_x) * 10.0,
        MILLIMETRE,
        detail=f"ultrasound region {region.index}: PhysicalDeltaY/X "
        f"{region.delta_y:g}\\{region.delta_x:g} cm",
    )


def _from_spacing(ds: Dataset, frame: int) -> Calibration:
    spacing = _pixel_spacing(ds, frame)
    imager = _pair(ds, "ImagerPixelSpacing")
    if spacing is not None:
        kind_name = str(ds.get("PixelSpacingCalibrationType") or "").strip().upper()
        description = str(ds.get("PixelSpacingCalibrationDescription") or "")
        if kind_name in ("GEOMETRY", "FIDUCIAL"):
            kind = CalibrationKind(kind_name)
            return _mm(kind, spacing, f"PixelSpacing, calibration {kind_name} {description}")
        if imager is None:
            return _mm(CalibrationKind.PIXEL_SPACING, spacing, "PixelSpacing")
        if not np.allclose(spacing, imager, rtol=1e-6, atol=0.0):
            return _mm(CalibrationKind.CALIBRATED, spacing,
                       "PixelSpacing differs from ImagerPixelSpacing")
    if imager is not None:
        factor = _float(ds, "EstimatedRadiographicMagnificationFactor")
        if factor is not None and factor > 0:
            corrected = (imager[0] / factor, imager[1] / factor)
            return _mm(CalibrationKind.MAGNIFICATION_CORRECTED, corrected,
                       f"ImagerPixelSpacing / EstimatedRadiographicMagnificationFactor {factor:g}")
        return _mm(CalibrationKind.DETECTOR, imager, "ImagerPixelSpacing, at the detector")
    scanned = _pair(ds, "NominalScannedPixelSpacing")
    if scanned is not None:
        return _mm(CalibrationKind.SCANNED, scanned, "NominalScannedPixelSpacing")
    return UNCALIBRATED


def _mm(kind: CalibrationKind, spacing: tuple[float, float], detail: str) -> Calibration:
    return Calibration(kind, spacing[0], spacing[1], MILLIMETRE, detail=detail.strip())


def _pixel_spacing(ds: Dataset, frame: int) -> tuple[float, float] | None:
    for keyword in ("PerFrameFunctionalGroupsSequence", "SharedFunctionalGroupsSequence"):
        groups = ds.get(keyword)
        if not groups:
            continue
        index = frame - 1 if keyword.startswith("PerFrame") else 0
        if index >= len(groups):
            continue
        measures = groups[index].get("PixelMeasuresSequence")
        if measures:
            pair = _pair(measures[0], "PixelSpacing")
            if pair is not None:
                return pair
    return _pair(ds, "PixelSpacing")


def _pair(ds: Dataset, keyword: str) -> tuple[float, float] | None:
    """The two spacings of `keyword`; ``None`` when absent or zero (written as "unknown")."""
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    try:
        numbers = [float(v) for v in value]
    except (TypeError, ValueError):
        raise ValueError(f"{keyword} {value!r} is not two numbers") from None
    if len(numbers) != 2 or not all(math.isfinite(v) and v >= 0 for v in numbers):
        raise ValueError(f"{keyword} {value!r} is not two non-negative numbers")
    if numbers[0] == 0 or numbers[1] == 0:
        return None
    return numbers[0], numbers[1]


def _float(ds: Dataset, keyword: str) -> float | None:
    value = ds.get(keyword)
    if value is None or value == "":
        return None
    try:
        return float(value[0] if isinstance(value, (list, tuple)) else value)
    except (TypeError, ValueError):
        raise ValueError(f"{keyword} {value!r} is not a number") from None
