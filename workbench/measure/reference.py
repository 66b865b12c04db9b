"""Points, image references and named quantities shared by every measurement.

Conventions of :mod:`workbench.measure` for 2-D measurements:

* A :data:`Point` is ``(row, col)`` in pixels, zero-based, where integer values are
  pixel *centres*: ``(0.0, 0.0)`` is the centre of the top-left pixel and the pixel
  covers ``[-0.5, 0.5)`` in both directions. Sub-pixel values are allowed.
* DICOM SR graphic data (PS3.3 C.18.6.1.1) put the origin at the top-left *corner*
  and list ``(column, row)``; :mod:`workbench.measure.sr` converts.
* Frame numbers are one-based, as everywhere in :mod:`workbench`.

3-D points (:mod:`workbench.measure.volume`) are patient LPS millimetres instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from pydicom.dataset import Dataset

from workbench.errors import MissingAttributeError

__all__ = ["ImageReference", "Point", "Quantity", "as_point", "as_points"]

Point = tuple[float, float]
"""``(row, col)``: zero-based pixel coordinates, integers at pixel centres."""


class Quantity(NamedTuple):
    """One number of a measurement result with its unit, as tables and SR list them.

    Attributes
    ----------
    name
        What was measured, lower case (``"length"``, ``"mean"``, ``"area"``).
    value
        The number.
    unit
        The unit (see :mod:`workbench.measure.units`).
    """

    name: str
    value: float
    unit: str


@dataclass(frozen=True)
class ImageReference:
    """The image (and frame) a 2-D measurement was made on.

    Attributes
    ----------
    sop_class_uid, sop_instance_uid
        (0008,0016) and (0008,0018) of the image.
    frame
        One-based frame number for multi-frame images, ``None`` for single frames.
    """

    sop_class_uid: str
    sop_instance_uid: str
    frame: int | None = None

    def __post_init__(self) -> None:
        if self.frame is not None and self.frame < 1:
            raise ValueError(f"frame numbers are one-based, got {self.frame}")

    @classmethod
    def from_dataset(cls, ds: Dataset, frame: int | None = None) -> ImageReference:
        """Reference `ds` (and `frame`, one-based) by its SOP Class and Instance UIDs.

        Raises
        ------
        MissingAttributeError
            SOPClassUID or SOPInstanceUID is absent.
        """
        for keyword in ("SOPClassUID", "SOPInstanceUID"):
            if not ds.get(keyword):
                raise MissingAttributeError(keyword)
        return cls(str(ds.SOPClassUID), str(ds.SOPInstanceUID), frame)


def as_point(value: Sequence[float]) -> Point:
    """Return `value` as a ``(row, col)`` tuple of finite floats.

    Raises
    ------
    ValueError
        Not two finite numbers.
    """
    if len(value) != 2:
        raise ValueError(f"a point is (row, col), got {value!r}")
    row, col = float(value[0]), float(value[1])
    if not (math.isfinite(row) and math.isfinite(col)):
        raise ValueError(f"point {value!r} is not finite")
    return row, col


def as_points(values: Iterable[Sequence[float]], minimum: int = 1) -> tuple[Point, ...]:
    """Return `values` as a tuple of points, at least `minimum` of them.

    Raises
    ------
    ValueError
        Fewer than `minimum` points, or one that is not two finite numbers.
    """
    points = tuple(as_point(v) for v in values)
    if len(points) < minimum:
        raise ValueError(f"need at least {minimum} points, got {len(points)}")
    return points
