"""Measurement results as tidy pandas tables, one row per number.

Columns of :func:`measurements_table`: ``measurement`` (the label or position given),
``tool`` (``length``, ``ellipse``, ..., ``volume``), ``quantity`` (``length``,
``mean``, ``volume (surface)``, ...), ``value``, ``unit``, ``calibration`` (the
:class:`~workbench.measure.calibration.CalibrationKind` value), ``row_spacing``,
``column_spacing``, ``slice_spacing`` (in the calibration's unit; ``NaN`` where not
applicable), ``sop_instance_uid`` and ``frame`` of the image measured (2-D only).
Tidy tables concatenate across studies and pivot with ``DataFrame.pivot_table``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from pydicom.dataset import Dataset

from workbench.measure.results import PlanarMeasurement, tool_name
from workbench.measure.sr_read import report_rows
from workbench.measure.volume import VolumeStatistics

__all__ = ["COLUMNS", "measurements_table", "report_table"]

COLUMNS = ("measurement", "tool", "quantity", "value", "unit", "calibration", "row_spacing",
           "column_spacing", "slice_spacing", "sop_instance_uid", "frame")
"""Columns of :func:`measurements_table`, in order."""

Result = PlanarMeasurement | VolumeStatistics


def measurements_table(
    measurements: Sequence[Result] | Mapping[Any, Result],
) -> pd.DataFrame:
    """Return one row per quantity of each measurement (see the module docstring).

    Parameters
    ----------
    measurements
        Results in a sequence (labelled by position) or a mapping (labelled by key,
        e.g. ``{"liver": stats}``).

    Examples
    --------
    >>> from workbench.measure.calibration import UNCALIBRATED
    >>> from workbench.measure.linear import measure_length
    >>> table = measurements_table([measure_length((0, 0), (3, 4), UNCALIBRATED)])
    >>> table[["tool", "quantity", "value", "unit"]].to_dict("records")
    [{'tool': 'length', 'quantity': 'length', 'value': 5.0, 'unit': 'px'}]
    """
    items = measurements.items() if isinstance(measurements, Mapping) else enumerate(measurements)
    rows = []
    for label, m in items:
        cal = m.calibration
        image = None if isinstance(m, VolumeStatistics) else m.image
        for quantity in m.quantities():
            rows.append({
                "measurement": label,
                "tool": "volume" if isinstance(m, VolumeStatistics) else tool_name(m),
                "quantity": quantity.name,
                "value": quantity.value,
                "unit": quantity.unit,
                "calibration": cal.kind.value,
                "row_spacing": cal.row_spacing,
                "column_spacing": cal.column_spacing,
                "slice_spacing": math.nan if cal.slice_spacing is None else cal.slice_spacing,
                "sop_instance_uid": image.sop_instance_uid if image else None,
                "frame": image.frame if image else None,
            })  # fmt: skip
    return pd.DataFrame(rows, columns=list(COLUMNS))


def report_table(sr: Dataset) -> pd.DataFrame:
    """Return every NUM of a TID 1500 SR, one row each (see
    :func:`workbench.measure.sr_read.report_rows` for the columns)."""
    return pd.DataFrame(report_rows(sr))
