"""Lengths, angles, bidirectional axes and probes against analytic values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench.measure import (
    UNCALIBRATED,
    Calibration,
    CalibrationKind,
    ImageReference,
    measure_angle,
    measure_bidirectional,
    measure_cobb_angle,
    measure_length,
    probe,
)

spacings = st.floats(0.05, 5.0)
coordinates = st.floats(-2000.0, 2000.0)


def mm(row: float, col: float) -> Calibration:
    return Calibration(CalibrationKind.PIXEL_SPACING, row, col, "mm")


@given(spacings, spacings, st.floats(0.01, 500.0), st.floats(0.0, 2 * math.pi), coordinates,
       coordinates)
def test_length_is_exact_along_any_direction(row_spacing: float, col_spacing: float,
                                             length: float, theta: float, r0: float,
                                             c0: float) -> None:
    """A segment of known physical length, drawn on anisotropic pixels, measures that length."""
    dr, dc = length * math.sin(theta) / row_spacing, length * math.cos(theta) / col_spacing
    m = measure_length((r0, c0), (r0 + dr, c0 + dc), mm(row_spacing, col_spacing))
    assert m.unit == "mm"
    # the only error left is the rounding of the drawn endpoints (r0 + dr, c0 + dc)
    slack = 4 * np.finfo(float).eps * (abs(r0) + abs(c0) + abs(dr) + abs(dc)) * max(
        row_spacing, col_spacing)
    assert abs(m.value - length) <= 4 * np.finfo(float).eps * length + slack


def test_length_on_axes_and_uncalibrated() -> None:
    cal = mm(0.5, 2.0)
    assert measure_length((0, 0), (10, 0), cal).value == 5.0
    assert measure_length((0, 0), (0, 10), cal).value == 20.0
    m = measure_length((0, 0), (3, 4), UNCALIBRATED, image=ImageReference("1.2", "1.2.3"))
    assert (m.value, m.unit, m.calibration.kind, m.image) == (
        5.0, "px", CalibrationKind.PIXELS, ImageReference("1.2", "1.2.3"))
    assert m.quantities()[0] == ("length", 5.0, "px")


def test_bidirectional_orders_the_axes() -> None:
    cal = mm(0.5, 0.5)
    m = measure_bidirectional([(0, 0), (0, 4)], [(-5, 2), (5, 2)], cal)
    assert (m.long_value, m.short_value) == (5.0, 2.0)
    assert m.long_axis == ((-5.0, 2.0), (5.0, 2.0))
    assert [q.name for q in m.quantities()] == ["long axis", "short axis"]
    with pytest.raises(ValueError):
        measure_bidirectional([(0, 0)], [(1, 1), (2, 2)], cal)


@given(st.floats(0.5, 179.5), spacings, spacings, st.floats(0.0, 2 * math.pi))
def test_angle_is_the_physical_angle(degrees: float, row_spacing: float, col_spacing: float,
                                     turn: float) -> None:
    """Arms at a known physical angle, drawn on anisotropic pixels."""
    a = (math.sin(turn) * 10 / row_spacing, math.cos(turn) * 10 / col_spacing)
    t = turn + math.radians(degrees)
    b = (math.sin(t) * 7 / row_spacing, math.cos(t) * 7 / col_spacing)
    m = measure_angle(a, (0.0, 0.0), b, mm(row_spacing, col_spacing))
    assert m.unit == "deg"
    assert m.value == pytest.approx(degrees, abs=1e-9)


def test_angle_on_anisotropic_pixels_differs_from_pixel_space() -> None:
    # 45 degrees in pixels is 63.43 degrees when rows are twice as far apart
    m = measure_angle((0, 10), (0, 0), (10, 10), mm(2.0, 1.0))
    assert m.value == pytest.approx(math.degrees(math.atan2(2, 1)))
    assert measure_angle((0, 10), (0, 0), (10, 10), UNCALIBRATED).value == pytest.approx(45)


def test_cobb_angle_is_between_lines_whatever_their_direction() -> None:
    line1 = [(0, 0), (0, 10)]
    for line2 in ([(20, 0), (30, 10)], [(30, 10), (20, 0)]):
        assert measure_cobb_angle(line1, line2, UNCALIBRATED).value == pytest.approx(45)
    steep = measure_cobb_angle([(0, 0), (1, 10)], [(0, 10), (1, 0)], UNCALIBRATED)
    assert steep.value == pytest.approx(2 * math.degrees(math.atan2(1, 10)))
    with pytest.raises(ValueError, match="non-zero"):
        measure_cobb_angle([(0, 0), (0, 0)], line1, UNCALIBRATED)


def test_probe_reads_the_pixel_containing_the_point() -> None:
    values = np.arange(12.0).reshape(3, 4)
    m = probe(values, (1.49, 2.5), mm(0.5, 0.5), units="HU")
    assert (m.index, m.value, m.unit) == ((1, 3), 7.0, "HU")
    assert probe(values, (-0.5, -0.5), UNCALIBRATED, units="").value == 0.0
    with pytest.raises(ValueError, match="outside"):
        probe(values, (2.6, 0), UNCALIBRATED, units="HU")
    with pytest.raises(ValueError, match="2-D"):
        probe(np.zeros((2, 2, 3)), (0, 0), UNCALIBRATED, units="")
