"""The 2-D measurement results as one type, and the name of the tool behind each.

Every result is a frozen dataclass carrying its value(s), unit, :class:`Calibration`
and, when known, the :class:`ImageReference` it was measured on; ``quantities()``
lists its numbers with units (what tables and SR write).
"""

from __future__ import annotations

from workbench.measure.angle import AngleMeasurement, CobbAngleMeasurement
from workbench.measure.bidirectional import BidirectionalMeasurement
from workbench.measure.linear import LinearMeasurement
from workbench.measure.probe import ProbeMeasurement
from workbench.measure.roi import RoiStatistics
from workbench.measure.shapes import Ellipse, Freehand, Rectangle

__all__ = ["TOOLS", "PlanarMeasurement", "tool_name"]

PlanarMeasurement = (
    LinearMeasurement | BidirectionalMeasurement | AngleMeasurement | CobbAngleMeasurement
    | ProbeMeasurement | RoiStatistics
)
"""Any 2-D measurement result."""

TOOLS = ("length", "bidirectional", "angle", "cobb", "probe", "ellipse", "rectangle",
         "polygon", "freehand")
"""Names of the drawing tools, as :func:`tool_name` returns them."""


def tool_name(measurement: PlanarMeasurement) -> str:
    """Return the drawing tool's name (one of :data:`TOOLS`).

    Examples
    --------
    >>> from workbench.measure.calibration import UNCALIBRATED
    >>> from workbench.measure.linear import measure_length
    >>> tool_name(measure_length((0, 0), (1, 1), UNCALIBRATED))
    'length'
    """
    match measurement:
        case LinearMeasurement():
            return "length"
        case BidirectionalMeasurement():
            return "bidirectional"
        case AngleMeasurement():
            return "angle"
        case CobbAngleMeasurement():
            return "cobb"
        case ProbeMeasurement():
            return "probe"
        case RoiStatistics(shape=Ellipse()):
            return "ellipse"
        case RoiStatistics(shape=Rectangle()):
            return "rectangle"
        case RoiStatistics(shape=Freehand()):
            return "freehand"
    return "polygon"
