"""Ultrasound regions (PS3.3 C.8.5.5, Sequence of Ultrasound Regions, (0018,6011)).

An ultrasound image may hold several regions (a 2-D sector, an M-mode strip, a
Doppler spectrum), each with its own physical units and deltas per pixel. A
measurement is valid only inside one region: its points must all lie inside the
same region, and lengths need a spatial (2-D) region in centimetres both ways.

Region bounds are pixel indices, zero-based from the top-left pixel, inclusive:
``x`` is the column, ``y`` the row. A :data:`~workbench.measure.reference.Point` is
inside a region when it lies within the region's pixels, i.e. within half a pixel of
the centres of its border pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset

from workbench.measure.reference import Point

__all__ = ["PHYSICAL_UNITS", "UltrasoundRegion", "region_for_points", "ultrasound_regions"]

PHYSICAL_UNITS: dict[int, str] = {
    0x0: "", 0x1: "%", 0x2: "dB", 0x3: "cm", 0x4: "s", 0x5: "Hz", 0x6: "dB/s",
    0x7: "cm/s", 0x8: "cm2", 0x9: "cm2/s", 0xA: "cm3", 0xB: "cm3/s", 0xC: "deg",
}  # fmt: skip
"""Physical Units X/Y Direction (0018,6024)/(0018,6026) defined terms, PS3.3 C.8.5.5.1.15."""

_NONE, _SPATIAL_2D = 0, 1  # Region Spatial Format (0018,6012), C.8.5.5.1.1: none, 2D


@dataclass(frozen=True)
class UltrasoundRegion:
    """One item of the Sequence of Ultrasound Regions.

    Attributes
    ----------
    index
        Zero-based position of the item in the sequence.
    min_col, min_row, max_col, max_row
        Region Location Min X0 / Min Y0 / Max X1 / Max Y1: the region's pixels,
        zero-based, inclusive (``x`` is the column, ``y`` the row).
    spatial_format, data_type
        Region Spatial Format (1 = 2D, 2 = M-mode, 3 = spectral, ...) and Region
        Data Type (1 = tissue, 2 = colour flow, 3 = PW Doppler, ...).
    x_unit, y_unit
        Physical units along columns and rows (:data:`PHYSICAL_UNITS` values).
    delta_x, delta_y
        Physical Delta X / Y: physical units per pixel along columns and rows.
    reference_col, reference_row
        The reference pixel as absolute image indices (Reference Pixel X0 / Y0 are
        relative to the region's top-left pixel), or ``None`` when absent.
    reference_value_x, reference_value_y
        Physical values at the reference pixel (0 when absent).
    """

    index: int
    min_col: int
    min_row: int
    max_col: int
    max_row: int
    spatial_format: int
    data_type: int
    x_unit: str
    y_unit: str
    delta_x: float
    delta_y: float
    reference_col: int | None = None
    reference_row: int | None = None
    reference_value_x: float = 0.0
    reference_value_y: float = 0.0

    @property
    def is_spatial(self) -> bool:
        """Whether lengths can be measured here: a 2-D region in cm both ways."""
        return (
            self.spatial_format == _SPATIAL_2D
            and self.x_unit == self.y_unit == "cm"
            and self.delta_x != 0
            and self.delta_y != 0
        )

    @property
    def pixel_count(self) -> int:
        """Number of pixels the region covers."""
        return (self.max_col - self.min_col + 1) * (self.max_row - self.min_row + 1)

    def contains(self, point: Point) -> bool:
        """Whether ``(row, col)`` `point` lies within the region's pixels."""
        row, col = point
        return (
            self.min_row - 0.5 <= row <= self.max_row + 0.5
            and self.min_col - 0.5 <= col <= self.max_col + 0.5
        )

    def physical_value(self, point: Point) -> tuple[float, float]:
        """Return the physical ``(x, y)`` values at ``(row, col)`` `point`.

        ``x`` is in :attr:`x_unit` (e.g. seconds on an M-mode strip), ``y`` in
        :attr:`y_unit` (e.g. cm/s on a Doppler spectrum), counted from the
        reference pixel (PS3.3 C.8.5.5.1.11-14).

        Raises
        ------
        ValueError
            The region has no reference pixel (ReferencePixelX0 / Y0).
        """
        if self.reference_col is None or self.reference_row is None:
            raise ValueError(f"ultrasound region {self.index} has no ReferencePixelX0/Y0")
        row, col = point
        x = self.reference_value_x + (col - self.reference_col) * self.delta_x
        y = self.reference_value_y + (row - self.reference_row) * self.delta_y
        return x, y


def ultrasound_regions(ds: Dataset) -> tuple[UltrasoundRegion, ...]:
    """Return the regions of (0018,6011) Sequence of Ultrasound Regions, in order.

    Returns an empty tuple when the image has none.

    Raises
    ------
    ValueError
        An item lacks a Type 1 attribute (the message names it).
    """
    items = ds.get("SequenceOfUltrasoundRegions") or ()
    return tuple(_region(i, item) for i, item in enumerate(items))


def region_for_points(
    regions: Sequence[UltrasoundRegion], points: Sequence[Point]
) -> UltrasoundRegion | None:
    """Return the region that contains every point, or ``None`` if no point is in one.

    Regions of Region Spatial Format 0 (none: header text, colour bars) are ignored.
    When regions overlap, the smallest region containing all points wins.

    Raises
    ------
    ValueError
        Some points lie in a region and others not in the same one: the
        measurement crosses a region border (names SequenceOfUltrasoundRegions).
    """
    regions = [r for r in regions if r.spatial_format != _NONE]
    inside = [r for r in regions if all(r.contains(p) for p in points)]
    if inside:
        return min(inside, key=lambda r: (r.pixel_count, r.index))
    if any(r.contains(p) for r in regions for p in points):
        raise ValueError(
            "the points are not all inside one region of SequenceOfUltrasoundRegions; "
            "an ultrasound measurement is valid only inside one region"
        )
    return None


def _region(index: int, item: Dataset) -> UltrasoundRegion:
    def required(keyword: str) -> Any:
        value = item.get(keyword)
        if value is None or value == "":
            raise ValueError(f"SequenceOfUltrasoundRegions item {index} has no {keyword}")
        return value

    min_col, min_row = int(required("RegionLocationMinX0")), int(required("RegionLocationMinY0"))
    ref_x, ref_y = item.get("ReferencePixelX0"), item.get("ReferencePixelY0")
    return UltrasoundRegion(
        index=index,
        min_col=min_col,
        min_row=min_row,
        max_col=int(required("RegionLocationMaxX1")),
        max_row=int(required("RegionLocationMaxY1")),
        spatial_format=int(required("RegionSpatialFormat")),
        data_type=int(required("RegionDataType")),
        x_unit=PHYSICAL_UNITS.get(int(required("PhysicalUnitsXDirection")), "?"),
        y_unit=PHYSICAL_UNITS.get(int(required("PhysicalUnitsYDirection")), "?"),
        delta_x=float(required("PhysicalDeltaX")),
        delta_y=float(required("PhysicalDeltaY")),
        reference_col=None if ref_x is None else min_col + int(ref_x),
        reference_row=None if ref_y is None else min_row + int(ref_y),
        reference_value_x=float(item.get("ReferencePixelPhysicalValueX") or 0.0),
        reference_value_y=float(item.get("ReferencePixelPhysicalValueY") or 0.0),
    )
