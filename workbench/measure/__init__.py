"""Measurements on images and volumes, with their units and calibration.

One module per measurement: :mod:`~workbench.measure.linear` (length),
:mod:`~workbench.measure.bidirectional`, :mod:`~workbench.measure.angle` (angle and
Cobb angle), :mod:`~workbench.measure.probe`, :mod:`~workbench.measure.roi` (with the
outlines in :mod:`~workbench.measure.shapes`), :mod:`~workbench.measure.segment` and
:mod:`~workbench.measure.volume` (with :mod:`~workbench.measure.mesh`);
:mod:`~workbench.measure.calibration`, :mod:`~workbench.measure.ultrasound` and
:mod:`~workbench.measure.units` decide what a pixel measures;
:mod:`~workbench.measure.tables` makes tidy pandas tables; :mod:`~workbench.measure.sr`
and :mod:`~workbench.measure.sr_read` write and read DICOM SR TID 1500.

Conventions: 2-D points are ``(row, col)`` pixels, zero-based at pixel centres; 3-D
points are patient LPS mm ``(x, y, z)``; volumes are DataArrays with dims
``("z", "y", "x")`` and ``attrs["affine"]``. Results are frozen dataclasses; each
carries its unit and its :class:`Calibration`.

The 2-D tools need only numpy and pydicom and are imported here. Volumetrics, tables
and SR need the ``analysis`` extra (scipy, scikit-image, pandas, highdicom); their
names load on first use and say which extra is missing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from workbench.measure.angle import (
    AngleMeasurement,
    CobbAngleMeasurement,
    measure_angle,
    measure_cobb_angle,
)
from workbench.measure.bidirectional import BidirectionalMeasurement, measure_bidirectional
from workbench.measure.calibration import (
    UNCALIBRATED,
    Calibration,
    CalibrationKind,
    calibration_from_dataset,
    user_calibration,
)
from workbench.measure.linear import LinearMeasurement, measure_length
from workbench.measure.probe import ProbeMeasurement, probe
from workbench.measure.reference import ImageReference, Point, Quantity
from workbench.measure.results import TOOLS, PlanarMeasurement, tool_name
from workbench.measure.roi import RoiStatistics, roi_mask, roi_statistics
from workbench.measure.shapes import Ellipse, Freehand, Polygon, Rectangle, RoiShape
from workbench.measure.ultrasound import UltrasoundRegion, ultrasound_regions

if TYPE_CHECKING:
    from workbench.measure.mesh import SurfaceMesh, surface_mesh
    from workbench.measure.segment import (
        brush,
        close_mask,
        connected_components,
        fill_holes,
        largest_component,
        open_mask,
        region_grow,
        remove_small_components,
        threshold,
    )
    from workbench.measure.sr import measurement_report
    from workbench.measure.sr_read import read_measurement_report, report_rows
    from workbench.measure.tables import measurements_table, report_table
    from workbench.measure.volume import VolumeStatistics, measure_region, measure_volume

_LAZY = {
    "segment": ("brush", "close_mask", "connected_components", "fill_holes",
                "largest_component", "open_mask", "region_grow", "remove_small_components",
                "threshold"),
    "mesh": ("SurfaceMesh", "surface_mesh"),
    "volume": ("VolumeStatistics", "measure_region", "measure_volume"),
    "sr": ("measurement_report",),
    "sr_read": ("read_measurement_report", "report_rows"),
    "tables": ("measurements_table", "report_table"),
}  # fmt: skip
_HOME = {name: module for module, names in _LAZY.items() for name in names}

__all__ = [
    "TOOLS", "UNCALIBRATED", "AngleMeasurement", "BidirectionalMeasurement", "Calibration",
    "CalibrationKind", "CobbAngleMeasurement", "Ellipse", "Freehand", "ImageReference",
    "LinearMeasurement", "PlanarMeasurement", "Point", "Polygon", "ProbeMeasurement",
    "Quantity", "Rectangle", "RoiShape", "RoiStatistics", "SurfaceMesh", "UltrasoundRegion",
    "VolumeStatistics", "brush", "calibration_from_dataset", "close_mask",
    "connected_components", "fill_holes", "largest_component", "measure_angle",
    "measure_bidirectional", "measure_cobb_angle", "measure_length", "measure_region",
    "measure_volume",
    "measurement_report", "measurements_table", "open_mask", "probe", "read_measurement_report",
    "region_grow", "remove_small_components", "report_rows", "report_table", "roi_mask",
    "roi_statistics", "surface_mesh", "threshold", "tool_name", "ultrasound_regions",
    "user_calibration",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    """Load volumetrics, tables and SR names on first use (they need the analysis extra)."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        loaded = importlib.import_module(f"{__name__}.{module}")
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            f"workbench.measure.{module} needs {exc.name}: pip install 'workbench[analysis]'",
            name=exc.name,
        ) from exc
    return getattr(loaded, name)
