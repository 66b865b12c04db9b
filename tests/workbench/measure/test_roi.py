"""ROI areas on analytic shapes and statistics against numpy on the same mask."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from workbench.measure import (
    Calibration,
    CalibrationKind,
    Ellipse,
    Freehand,
    Polygon,
    Rectangle,
    roi_mask,
    roi_statistics,
)

HALF_MM = Calibration(CalibrationKind.PIXEL_SPACING, 0.5, 0.5, "mm")


def image(rows: int = 200, cols: int = 220, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(40.0, 15.0, (rows, cols)).round(1)


def rotated_ellipse(center: tuple[float, float], a: float, b: float, degrees: float) -> Ellipse:
    t = math.radians(degrees)
    u, v = (math.sin(t), math.cos(t)), (math.cos(t), -math.sin(t))
    r, c = center
    return Ellipse(((r - a * u[0], c - a * u[1]), (r + a * u[0], c + a * u[1])),
                   ((r - b * v[0], c - b * v[1]), (r + b * v[0], c + b * v[1])))


@pytest.mark.parametrize("degrees", [0.0, 30.0, 77.0])
def test_ellipse_area_within_one_percent_at_half_mm(degrees: float) -> None:
    """Semi-axes 20 mm and 12 mm: exact outline area; pixel area within 1 %."""
    shape = rotated_ellipse((100.3, 110.6), 40.0, 24.0, degrees)
    stats = roi_statistics(image(), shape, HALF_MM, units="HU")
    truth = math.pi * 20.0 * 12.0
    assert stats.area == pytest.approx(truth, rel=1e-12)
    assert stats.area_unit == "mm2"
    assert abs(stats.pixel_count * HALF_MM.pixel_area / truth - 1) < 0.01


def test_polygon_area_within_one_percent_at_half_mm() -> None:
    """A non-convex star of known area (shoelace in mm)."""
    angles = np.linspace(0, 2 * np.pi, 10, endpoint=False)
    radii = np.where(np.arange(10) % 2 == 0, 80.0, 35.0)
    vertices = [(100 + r * math.sin(t), 110 + r * math.cos(t))
                for r, t in zip(radii, angles, strict=True)]
    truth = 0.5 * sum(80.0 * 35.0 * math.sin(2 * math.pi / 10) for _ in range(10)) * 0.25
    stats = roi_statistics(image(), Polygon.from_points(vertices), HALF_MM, units="HU")
    assert stats.area == pytest.approx(truth, rel=1e-12)
    assert abs(stats.pixel_count * 0.25 / truth - 1) < 0.01


def test_statistics_equal_numpy_on_the_same_mask() -> None:
    values = image()
    cal = Calibration(CalibrationKind.PIXEL_SPACING, 0.5, 0.8, "mm")
    for shape in (rotated_ellipse((90, 100), 30, 17, 20),
                  Rectangle((10.2, 15.7), (60.4, 33.1)),
                  Freehand.from_points([(20, 20), (80, 35), (60, 90), (25, 70), (20, 20)])):
        mask = roi_mask(shape, values.shape)
        inside = values[mask]
        stats = roi_statistics(values, shape, cal, units="HU")
        assert stats.pixel_count == mask.sum() == inside.size
        assert stats.mean == float(inside.astype(np.float64).mean())
        assert stats.std == float(inside.astype(np.float64).std())
        assert (stats.minimum, stats.maximum) == (inside.min(), inside.max())
        assert stats.median == float(np.median(inside))
        assert stats.unit == "HU"
        assert stats.area == pytest.approx(shape.area * 0.4)


def test_rectangle_counts_pixel_centres() -> None:
    shape = Rectangle((2.0, 3.0), (5.0, 1.0))  # rows 2..5, cols 1..3 inclusive
    assert roi_mask(shape, (8, 8)).sum() == 4 * 3
    stats = roi_statistics(np.ones((8, 8)), shape, HALF_MM, units="")
    assert (stats.area, stats.std, stats.pixel_count) == (1.5, 0.0, 12)


def test_roi_partly_outside_the_image_is_clipped() -> None:
    shape = Ellipse.from_center((0.0, 0.0), 5.0, 5.0)
    full = roi_mask(shape, (20, 20))
    assert full.sum() == 26  # centres (r, c) >= 0 with r^2 + c^2 <= 25
    stats = roi_statistics(np.ones((20, 20)), shape, HALF_MM, units="")
    assert stats.area == pytest.approx(math.pi * 25 * 0.25)
    with pytest.raises(ValueError, match="no pixel centre"):
        roi_statistics(np.ones((20, 20)), Ellipse.from_center((-10, -10), 2, 2), HALF_MM,
                       units="")


@settings(max_examples=40)
@given(st.lists(st.tuples(st.floats(-5, 40), st.floats(-5, 40)), min_size=3, max_size=12))
def test_polygon_scanline_matches_the_point_test(points: list[tuple[float, float]]) -> None:
    assume(points[0] != points[-1])
    shape = Polygon.from_points(points)
    rows, cols = np.arange(-2, 38), np.arange(-3, 36)
    rr, cc = np.meshgrid(rows.astype(float), cols.astype(float), indexing="ij")
    assert np.array_equal(shape.grid(rows, cols), shape.contains(rr, cc))


def test_shape_validation_and_constructors() -> None:
    with pytest.raises(ValueError, match="right angles"):
        Ellipse(((0, 0), (0, 10)), ((-2, 3), (2, 3)))
    with pytest.raises(ValueError, match="at least as long"):
        Ellipse(((0, 0), (0, 2)), ((-5, 1), (5, 1)))
    with pytest.raises(ValueError, match="3 vertices"):
        Polygon.from_points([(0, 0), (1, 1), (0, 0)])
    box = Ellipse.from_box((0, 0), (10, 40))
    assert box.center == (5.0, 20.0)
    assert box.area == pytest.approx(math.pi * 5 * 20)
    assert box.bounds() == pytest.approx((0, 0, 10, 40))
    assert Rectangle((0, 0), (2, 3)).vertices == ((0, 0), (0, 3), (2, 3), (2, 0))
