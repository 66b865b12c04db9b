"""Region-of-interest statistics on one image: area and pixel value statistics.

The outline is an :class:`~workbench.measure.shapes.Ellipse`,
:class:`~workbench.measure.shapes.Rectangle`, :class:`~workbench.measure.shapes.Polygon`
or :class:`~workbench.measure.shapes.Freehand`, in ``(row, col)`` pixels, zero-based
at pixel centres. A pixel counts when its centre lies inside; pixels outside the image
are ignored. The *area* is the exact area of the outline as drawn (in mm² when
calibrated); ``pixel_count * calibration.pixel_area`` is the area of the pixels
actually used, which approaches it as pixels get smaller.

Statistics are over the values of the counted pixels, in the units of the array
passed (the modality LUT output: HU for CT). The standard deviation is the population
one (``ddof=0``, numpy's default); the median of an even count is the mean of the two
middle values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from workbench.measure.calibration import Calibration
from workbench.measure.reference import ImageReference, Quantity
from workbench.measure.shapes import RoiShape

__all__ = ["PIXEL_COUNT_UNIT", "RoiStatistics", "roi_mask", "roi_statistics"]

PIXEL_COUNT_UNIT = "pixels"
"""The unit of :attr:`RoiStatistics.pixel_count` in tables and SR."""


@dataclass(frozen=True)
class RoiStatistics:
    """Area and value statistics of a region of interest.

    Attributes
    ----------
    shape
        The outline, in pixels.
    area
        Area of the outline in `area_unit`.
    area_unit
        ``"mm2"``, or ``"px2"`` when uncalibrated.
    pixel_count
        Number of pixels whose centre is inside (and in the image).
    mean, std, minimum, maximum, median
        Statistics of their values, in `unit` (``std`` with ``ddof=0``).
    unit
        Units of the pixel values (``"HU"``, ``"BQML"``, ``""`` for arbitrary).
    calibration
        The pixel size used for the area.
    image
        The image measured, when known.
    """

    shape: RoiShape
    area: float
    area_unit: str
    pixel_count: int
    mean: float
    std: float
    minimum: float
    maximum: float
    median: float
    unit: str
    calibration: Calibration
    image: ImageReference | None = None

    def quantities(self) -> tuple[Quantity, ...]:
        """Return area, mean, standard deviation, minimum, maximum, median, pixel count."""
        return (
            Quantity("area", self.area, self.area_unit),
            Quantity("mean", self.mean, self.unit),
            Quantity("standard deviation", self.std, self.unit),
            Quantity("minimum", self.minimum, self.unit),
            Quantity("maximum", self.maximum, self.unit),
            Quantity("median", self.median, self.unit),
            Quantity("pixel count", float(self.pixel_count), PIXEL_COUNT_UNIT),
        )


def roi_mask(shape: RoiShape, image_shape: tuple[int, int]) -> npt.NDArray[np.bool_]:
    """Return the ``(rows, cols)`` boolean mask of pixels whose centre is inside `shape`.

    Examples
    --------
    >>> from workbench.measure.shapes import Rectangle
    >>> roi_mask(Rectangle((0.5, 0.5), (2.0, 1.0)), (4, 3)).astype(int).tolist()
    [[0, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 0]]
    """
    mask = np.zeros(image_shape, dtype=bool)
    window = _window(shape, image_shape)
    if window is not None:
        rows, cols = window
        mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] = shape.grid(rows, cols)
    return mask


def roi_statistics(
    values: npt.ArrayLike,
    shape: RoiShape,
    calibration: Calibration,
    *,
    units: str,
    image: ImageReference | None = None,
) -> RoiStatistics:
    """Return the area of `shape` and statistics of the 2-D `values` inside it.

    Parameters
    ----------
    values
        One frame, ``(rows, cols)``, in modality units (colour images have none).
    shape
        The outline in ``(row, col)`` pixels.
    calibration
        The pixel size (see :func:`~workbench.measure.calibration.calibration_from_dataset`).
    units
        Units of `values`, e.g. ``"HU"``.
    image
        The image measured, for SR export.

    Raises
    ------
    ValueError
        `values` is not 2-D, or no pixel centre lies inside the outline.

    Examples
    --------
    >>> from workbench.measure.calibration import Calibration, CalibrationKind
    >>> from workbench.measure.shapes import Rectangle
    >>> cal = Calibration(CalibrationKind.PIXEL_SPACING, 0.5, 0.5, "mm")
    >>> stats = roi_statistics([[0, 10], [20, 30]], Rectangle((0, 0), (1, 1)), cal, units="HU")
    >>> stats.area, stats.pixel_count, stats.mean, stats.median
    (0.25, 4, 15.0, 15.0)
    """
    array = np.asarray(values)
    if array.ndim != 2:
        raise ValueError(f"ROI statistics need a 2-D (row, col) array, got shape {array.shape}")
    window = _window(shape, (array.shape[0], array.shape[1]))
    inside = np.empty(0)
    if window is not None:
        rows, cols = window
        block = array[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        inside = block[shape.grid(rows, cols)].astype(np.float64)
    if inside.size == 0:
        raise ValueError("no pixel centre lies inside the region of interest")
    return RoiStatistics(
        shape=shape,
        area=shape.area * calibration.pixel_area,
        area_unit=calibration.area_unit,
        pixel_count=int(inside.size),
        mean=float(inside.mean()),
        std=float(inside.std()),
        minimum=float(inside.min()),
        maximum=float(inside.max()),
        median=float(np.median(inside)),
        unit=units,
        calibration=calibration,
        image=image,
    )


def _window(
    shape: RoiShape, image_shape: tuple[int, int]
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]] | None:
    """Integer rows and columns of the pixel centres in the shape's bounds and the image."""
    rmin, cmin, rmax, cmax = shape.bounds()
    r0, c0 = max(0, math.ceil(rmin)), max(0, math.ceil(cmin))
    r1, c1 = min(image_shape[0] - 1, math.floor(rmax)), min(image_shape[1] - 1, math.floor(cmax))
    if r0 > r1 or c0 > c1:
        return None
    return np.arange(r0, r1 + 1), np.arange(c0, c1 + 1)
