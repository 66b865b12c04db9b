"""Bidirectional measurement: long axis and short axis of a lesion (RECIST, WHO).

Axes are pairs of ``(row, col)`` pixel points, zero-based at pixel centres. Lengths
are computed as in :mod:`workbench.measure.linear`; the longer axis is reported as
the long axis whatever order they were given in. Perpendicularity is the drawing
tool's business and is not checked here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workbench.measure.calibration import Calibration
from workbench.measure.reference import ImageReference, Point, Quantity, as_points

__all__ = ["BidirectionalMeasurement", "measure_bidirectional"]


@dataclass(frozen=True)
class BidirectionalMeasurement:
    """Long and short axis lengths.

    Attributes
    ----------
    long_axis, short_axis
        Endpoints ``((row, col), (row, col))`` of each axis, in pixels.
    long_value, short_value
        Their lengths in `unit`; ``long_value >= short_value``.
    unit
        ``"mm"`` or ``"px"``.
    calibration
        The pixel size the lengths were computed with.
    image
        The image measured, when known.
    """

    long_axis: tuple[Point, Point]
    short_axis: tuple[Point, Point]
    long_value: float
    short_value: float
    unit: str
    calibration: Calibration
    image: ImageReference | None = None

    def quantities(self) -> tuple[Quantity, ...]:
        """Return the long axis, then the short axis length."""
        return (
            Quantity("long axis", self.long_value, self.unit),
            Quantity("short axis", self.short_value, self.unit),
        )


def measure_bidirectional(
    long_axis: Sequence[Sequence[float]],
    short_axis: Sequence[Sequence[float]],
    calibration: Calibration,
    *,
    image: ImageReference | None = None,
) -> BidirectionalMeasurement:
    """Return the lengths of two axes, each given by two ``(row, col)`` points.

    Examples
    --------
    >>> from workbench.measure.calibration import UNCALIBRATED
    >>> m = measure_bidirectional([(0, 0), (0, 3)], [(-2, 1), (2, 1)], UNCALIBRATED)
    >>> m.long_value, m.short_value, m.long_axis
    (4.0, 3.0, ((-2.0, 1.0), (2.0, 1.0)))
    """
    first, second = _axis(long_axis), _axis(short_axis)
    a, b = calibration.distance(*first), calibration.distance(*second)
    if b > a:
        first, second, a, b = second, first, b, a
    return BidirectionalMeasurement(first, second, a, b, calibration.unit, calibration, image)


def _axis(points: Sequence[Sequence[float]]) -> tuple[Point, Point]:
    pair = as_points(points, minimum=2)
    if len(pair) != 2:
        raise ValueError(f"an axis is two (row, col) points, got {len(pair)}")
    return pair[0], pair[1]
