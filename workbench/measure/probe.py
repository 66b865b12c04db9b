"""Probe: the value of the pixel under a point.

The point is ``(row, col)`` in pixels, zero-based at pixel centres; the pixel read is
the one whose area contains the point (nearest centre, halves rounding up). Values
are whatever array the caller passes, normally the modality LUT output of one frame
(:func:`workbench.imaging.lut.apply_modality_lut`), in the units
:func:`workbench.imaging.lut.modality_units` names (``"HU"`` for CT).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from workbench.measure.calibration import Calibration
from workbench.measure.reference import ImageReference, Point, Quantity, as_point

__all__ = ["ProbeMeasurement", "probe"]


@dataclass(frozen=True)
class ProbeMeasurement:
    """A pixel value at a point.

    Attributes
    ----------
    point
        The ``(row, col)`` point probed, in pixels.
    index
        The integer ``(row, col)`` index of the pixel read.
    value
        The pixel value, in `unit`.
    unit
        Units of the pixel values (``"HU"``, ``"BQML"``, ``""`` for arbitrary).
    calibration
        The calibration of the image, so that the position can be shown in mm.
    image
        The image probed, when known.
    """

    point: Point
    index: tuple[int, int]
    value: float
    unit: str
    calibration: Calibration
    image: ImageReference | None = None

    def quantities(self) -> tuple[Quantity, ...]:
        """Return ``(("value", value, unit),)``."""
        return (Quantity("value", self.value, self.unit),)


def probe(
    values: npt.ArrayLike,
    point: Sequence[float],
    calibration: Calibration,
    *,
    units: str,
    image: ImageReference | None = None,
) -> ProbeMeasurement:
    """Return the value of the pixel of 2-D `values` that contains `point`.

    Raises
    ------
    ValueError
        `values` is not 2-D (colour images have no single value), or the point
        lies outside the image.

    Examples
    --------
    >>> from workbench.measure.calibration import UNCALIBRATED
    >>> probe([[1, 2], [3, 4]], (0.6, 0.4), UNCALIBRATED, units="HU").value
    3.0
    """
    array = np.asarray(values)
    if array.ndim != 2:
        raise ValueError(f"probe needs a 2-D (row, col) array, got shape {array.shape}")
    p = as_point(point)
    index = (math.floor(p[0] + 0.5), math.floor(p[1] + 0.5))
    if not (0 <= index[0] < array.shape[0] and 0 <= index[1] < array.shape[1]):
        raise ValueError(f"point {p} is outside the {array.shape} image")
    return ProbeMeasurement(p, index, float(array[index]), units, calibration, image)
