"""Angles between image lines: the three-point angle and the Cobb angle.

Points are ``(row, col)`` in pixels, zero-based at pixel centres. Directions are taken
in physical space (row and column differences times their spacings), so an angle
drawn on non-square pixels is the angle in the patient; uncalibrated images use
square pixels. Angles are in degrees, from ``atan2(|cross|, dot)``, which stays
accurate near 0 and 180 degrees.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from workbench.measure.calibration import Calibration
from workbench.measure.reference import ImageReference, Point, Quantity, as_points
from workbench.measure.units import DEGREE

__all__ = ["AngleMeasurement", "CobbAngleMeasurement", "measure_angle", "measure_cobb_angle"]


@dataclass(frozen=True)
class AngleMeasurement:
    """The angle at a vertex between two arms.

    Attributes
    ----------
    points
        ``(end of first arm, vertex, end of second arm)``, each ``(row, col)``.
    value
        The angle in degrees, 0 to 180.
    unit
        ``"deg"``.
    calibration
        The pixel size used to put the arms in physical space.
    image
        The image measured, when known.
    """

    points: tuple[Point, Point, Point]
    value: float
    unit: str
    calibration: Calibration
    image: ImageReference | None = None

    def quantities(self) -> tuple[Quantity, ...]:
        """Return ``(("angle", value, "deg"),)``."""
        return (Quantity("angle", self.value, self.unit),)


@dataclass(frozen=True)
class CobbAngleMeasurement:
    """The Cobb angle between two lines (end plates of a spinal curve).

    Attributes
    ----------
    lines
        Two lines, each two ``(row, col)`` points.
    value
        The angle between the lines in degrees, 0 to 90 (lines have no direction).
    unit
        ``"deg"``.
    calibration
        The pixel size used to put the lines in physical space.
    image
        The image measured, when known.
    """

    lines: tuple[tuple[Point, Point], tuple[Point, Point]]
    value: float
    unit: str
    calibration: Calibration
    image: ImageReference | None = None

    def quantities(self) -> tuple[Quantity, ...]:
        """Return ``(("cobb angle", value, "deg"),)``."""
        return (Quantity("cobb angle", self.value, self.unit),)


def measure_angle(
    end1: Sequence[float],
    vertex: Sequence[float],
    end2: Sequence[float],
    calibration: Calibration,
    *,
    image: ImageReference | None = None,
) -> AngleMeasurement:
    """Return the angle at `vertex` between the arms to `end1` and `end2`.

    Examples
    --------
    >>> from workbench.measure.calibration import UNCALIBRATED
    >>> measure_angle((0, 5), (0, 0), (5, 0), UNCALIBRATED).value
    90.0
    """
    a, v, b = as_points((end1, vertex, end2), minimum=3)
    angle = _between(calibration, (v, a), (v, b))
    return AngleMeasurement((a, v, b), angle, DEGREE, calibration, image)


def measure_cobb_angle(
    line1: Sequence[Sequence[float]],
    line2: Sequence[Sequence[float]],
    calibration: Calibration,
    *,
    image: ImageReference | None = None,
) -> CobbAngleMeasurement:
    """Return the acute angle between two lines, each two ``(row, col)`` points.

    Examples
    --------
    >>> from workbench.measure.calibration import UNCALIBRATED
    >>> round(measure_cobb_angle([(0, 0), (0, 10)], [(10, 10), (0, 0)], UNCALIBRATED).value, 9)
    45.0
    """
    first, second = _line(line1), _line(line2)
    angle = _between(calibration, first, second)
    return CobbAngleMeasurement((first, second), min(angle, 180.0 - angle), DEGREE, calibration,
                                image)


def _between(cal: Calibration, u: tuple[Point, Point], w: tuple[Point, Point]) -> float:
    """Angle in degrees between the directed segments `u` and `w` in physical space."""
    ur, uc = (u[1][0] - u[0][0]) * cal.row_spacing, (u[1][1] - u[0][1]) * cal.column_spacing
    wr, wc = (w[1][0] - w[0][0]) * cal.row_spacing, (w[1][1] - w[0][1]) * cal.column_spacing
    if (ur == 0 and uc == 0) or (wr == 0 and wc == 0):
        raise ValueError("an angle needs two lines of non-zero length")
    return math.degrees(math.atan2(abs(ur * wc - uc * wr), ur * wr + uc * wc))


def _line(points: Sequence[Sequence[float]]) -> tuple[Point, Point]:
    pair = as_points(points, minimum=2)
    if len(pair) != 2:
        raise ValueError(f"a line is two (row, col) points, got {len(pair)}")
    return pair[0], pair[1]
