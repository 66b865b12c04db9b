"""Straight-line length between two image points (the viewer's length/caliper tool).

Points are ``(row, col)`` in pixels, zero-based at pixel centres (see
:mod:`workbench.measure.reference`). The length is
``hypot(d_row * row_spacing, d_col * column_spacing)`` in the calibration's unit, so it
is exact to floating point along any direction, whatever the pixel aspect ratio.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workbench.measure.calibration import Calibration
from workbench.measure.reference import ImageReference, Point, Quantity, as_point

__all__ = ["LinearMeasurement", "measure_length"]


@dataclass(frozen=True)
class LinearMeasurement:
    """A length between two points.

    Attributes
    ----------
    points
        The two ``(row, col)`` endpoints, in pixels, as drawn.
    value
        The length, in `unit`.
    unit
        ``"mm"`` or ``"px"`` (the calibration's unit).
    calibration
        The pixel size the length was computed with.
    image
        The image measured, when known (needed for DICOM SR).
    """

    points: tuple[Point, Point]
    value: float
    unit: str
    calibration: Calibration
    image: ImageReference | None = None

    def quantities(self) -> tuple[Quantity, ...]:
        """Return ``(("length", value, unit),)``."""
        return (Quantity("length", self.value, self.unit),)


def measure_length(
    p0: Sequence[float],
    p1: Sequence[float],
    calibration: Calibration,
    *,
    image: ImageReference | None = None,
) -> LinearMeasurement:
    """Return the length from `p0` to `p1`, ``(row, col)`` pixel points.

    Examples
    --------
    >>> from workbench.measure.calibration import Calibration, CalibrationKind
    >>> cal = Calibration(CalibrationKind.PIXEL_SPACING, 0.5, 2.0, "mm")
    >>> measure_length((0, 0), (6, 2), cal).value
    5.0
    """
    a, b = as_point(p0), as_point(p1)
    return LinearMeasurement((a, b), calibration.distance(a, b), calibration.unit, calibration,
                             image)
