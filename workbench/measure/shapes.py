"""Outlines of regions of interest on an image: ellipse, rectangle, polygon, freehand.

All coordinates are ``(row, col)`` in pixels, zero-based at pixel centres (see
:mod:`workbench.measure.reference`). A pixel belongs to a shape when its *centre* lies
inside the outline. Areas are exact for the outline as drawn, in square pixels; the
calibration turns them into mm² (the pixel grid maps linearly, so any shape's area
scales by ``row_spacing * column_spacing``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from workbench.measure.reference import Point, as_point, as_points

__all__ = ["Ellipse", "Freehand", "Polygon", "Rectangle", "RoiShape"]

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
_TOLERANCE = 1e-4  # relative, for an ellipse's axes (SR stores 32-bit floats)


@dataclass(frozen=True)
class Ellipse:
    """An ellipse given by the endpoints of its axes, as DICOM SCOORD ELLIPSE lists them.

    Attributes
    ----------
    major, minor
        Endpoints of the major and the minor axis, ``(row, col)`` each. The axes
        bisect each other at right angles (in pixel space) and ``major`` is not
        shorter than ``minor``.
    """

    major: tuple[Point, Point]
    minor: tuple[Point, Point]

    def __post_init__(self) -> None:
        (a0, a1), (b0, b1) = self.major, self.minor
        u = np.subtract(a1, a0)
        v = np.subtract(b1, b0)
        lu, lv = float(np.hypot(*u)), float(np.hypot(*v))
        if lv == 0 or lu < lv * (1 - _TOLERANCE):
            raise ValueError("an ellipse needs a major axis at least as long as a non-zero minor")
        centre_gap = float(np.hypot(*(np.add(a0, a1) - np.add(b0, b1)) / 2))
        if centre_gap > _TOLERANCE * lu or abs(float(u @ v)) > _TOLERANCE * lu * lv:
            raise ValueError("the axes of an ellipse must bisect each other at right angles")

    @classmethod
    def from_center(cls, center: Sequence[float], row_radius: float, col_radius: float) -> Ellipse:
        """Return the axis-aligned ellipse with these semi-axes (pixels) about `center`."""
        r, c = as_point(center)
        if not (row_radius > 0 and col_radius > 0):
            raise ValueError("ellipse radii must be positive")
        vertical = ((r - row_radius, c), (r + row_radius, c))
        horizontal = ((r, c - col_radius), (r, c + col_radius))
        if row_radius >= col_radius:
            return cls(vertical, horizontal)
        return cls(horizontal, vertical)

    @classmethod
    def from_box(cls, corner0: Sequence[float], corner1: Sequence[float]) -> Ellipse:
        """Return the ellipse inscribed in the axis-aligned box with these corners."""
        (r0, c0), (r1, c1) = as_point(corner0), as_point(corner1)
        return cls.from_center(((r0 + r1) / 2, (c0 + c1) / 2), abs(r1 - r0) / 2, abs(c1 - c0) / 2)

    @property
    def center(self) -> Point:
        """The centre ``(row, col)``."""
        (a0, a1), (b0, b1) = self.major, self.minor
        return (a0[0] + a1[0] + b0[0] + b1[0]) / 4, (a0[1] + a1[1] + b0[1] + b1[1]) / 4

    def _frame(self) -> tuple[FloatArray, FloatArray, float, float]:
        u = np.subtract(self.major[1], self.major[0]).astype(np.float64)
        v = np.subtract(self.minor[1], self.minor[0]).astype(np.float64)
        a, b = float(np.hypot(*u)) / 2, float(np.hypot(*v)) / 2
        return u / (2 * a), v / (2 * b), a, b

    @property
    def area(self) -> float:
        """``pi * a * b`` in square pixels."""
        _, _, a, b = self._frame()
        return math.pi * a * b

    def bounds(self) -> tuple[float, float, float, float]:
        """``(min row, min col, max row, max col)`` of the outline."""
        u, v, a, b = self._frame()
        r, c = self.center
        dr, dc = math.hypot(a * u[0], b * v[0]), math.hypot(a * u[1], b * v[1])
        return r - dr, c - dc, r + dr, c + dc

    def contains(self, rows: FloatArray, cols: FloatArray) -> BoolArray:
        """Whether each ``(rows[i], cols[i])`` lies inside or on the ellipse."""
        u, v, a, b = self._frame()
        r, c = self.center
        dr, dc = rows - r, cols - c
        s, t = (dr * u[0] + dc * u[1]) / a, (dr * v[0] + dc * v[1]) / b
        return np.asarray(s * s + t * t <= 1.0)

    def grid(self, rows: npt.NDArray[np.intp], cols: npt.NDArray[np.intp]) -> BoolArray:
        """Return the ``(len(rows), len(cols))`` mask of pixel centres inside."""
        rr, cc = np.meshgrid(rows.astype(np.float64), cols.astype(np.float64), indexing="ij")
        return self.contains(rr, cc)


@dataclass(frozen=True)
class Rectangle:
    """A rectangle with edges along rows and columns.

    Attributes
    ----------
    corner0, corner1
        Opposite corners ``(row, col)``, as drawn.
    """

    corner0: Point
    corner1: Point

    @property
    def vertices(self) -> tuple[Point, Point, Point, Point]:
        """The four corners, starting at `corner0`, alternating row and column moves."""
        (r0, c0), (r1, c1) = self.corner0, self.corner1
        return (r0, c0), (r0, c1), (r1, c1), (r1, c0)

    @property
    def area(self) -> float:
        """Area in square pixels."""
        return abs((self.corner1[0] - self.corner0[0]) * (self.corner1[1] - self.corner0[1]))

    def bounds(self) -> tuple[float, float, float, float]:
        """``(min row, min col, max row, max col)``."""
        (r0, c0), (r1, c1) = self.corner0, self.corner1
        return min(r0, r1), min(c0, c1), max(r0, r1), max(c0, c1)

    def contains(self, rows: FloatArray, cols: FloatArray) -> BoolArray:
        """Whether each ``(rows[i], cols[i])`` lies inside or on the rectangle."""
        r0, c0, r1, c1 = self.bounds()
        return np.asarray((rows >= r0) & (rows <= r1) & (cols >= c0) & (cols <= c1))

    def grid(self, rows: npt.NDArray[np.intp], cols: npt.NDArray[np.intp]) -> BoolArray:
        """Return the ``(len(rows), len(cols))`` mask of pixel centres inside."""
        r0, c0, r1, c1 = self.bounds()
        return np.outer((rows >= r0) & (rows <= r1), (cols >= c0) & (cols <= c1))


@dataclass(frozen=True)
class Polygon:
    """A closed polygon (the last vertex joins the first).

    Attributes
    ----------
    vertices
        At least three ``(row, col)`` vertices, without repeating the first.

    Notes
    -----
    The area is the shoelace formula; for a self-crossing outline, lobes drawn in
    opposite senses subtract. Pixels are inside by the even-odd rule.
    """

    vertices: tuple[Point, ...]

    def __post_init__(self) -> None:
        if len(self.vertices) < 3:
            raise ValueError(f"a polygon needs at least 3 vertices, got {len(self.vertices)}")

    @classmethod
    def from_points(cls, points: Sequence[Sequence[float]]) -> Polygon:
        """Return the polygon through `points`, dropping a closing repeat of the first."""
        vertices = as_points(points)
        if len(vertices) > 1 and vertices[-1] == vertices[0]:
            vertices = vertices[:-1]
        return cls(vertices)

    @property
    def area(self) -> float:
        """Area in square pixels (shoelace formula)."""
        p = np.asarray(self.vertices, dtype=np.float64)
        r, c = p[:, 0] - p[:, 0].mean(), p[:, 1] - p[:, 1].mean()
        return abs(float(np.dot(r, np.roll(c, -1)) - np.dot(c, np.roll(r, -1)))) / 2

    def bounds(self) -> tuple[float, float, float, float]:
        """``(min row, min col, max row, max col)``."""
        p = np.asarray(self.vertices, dtype=np.float64)
        low, high = p.min(axis=0), p.max(axis=0)
        return float(low[0]), float(low[1]), float(high[0]), float(high[1])

    def contains(self, rows: FloatArray, cols: FloatArray) -> BoolArray:
        """Whether each ``(rows[i], cols[i])`` is inside, by the even-odd rule."""
        p = np.asarray(self.vertices, dtype=np.float64)
        q = np.roll(p, -1, axis=0)
        rows, cols = np.asarray(rows, dtype=np.float64), np.asarray(cols, dtype=np.float64)
        inside = np.zeros(np.broadcast(rows, cols).shape, dtype=bool)
        for (r0, c0), (r1, c1) in zip(p, q, strict=True):
            if r0 == r1:
                continue
            crosses = (rows >= min(r0, r1)) & (rows < max(r0, r1))
            at = c0 + (rows - r0) * (c1 - c0) / (r1 - r0)
            inside ^= crosses & (cols < at)
        return inside

    def grid(self, rows: npt.NDArray[np.intp], cols: npt.NDArray[np.intp]) -> BoolArray:
        """Return the ``(len(rows), len(cols))`` mask of pixel centres inside.

        Scan-line fill: per row, the crossings of the edges, then the even-odd rule
        (the same rule as :meth:`contains`, in ``O(rows * (edges + cols))``).
        """
        p = np.asarray(self.vertices, dtype=np.float64)
        q = np.roll(p, -1, axis=0)
        r0, c0, r1, c1 = p[:, 0], p[:, 1], q[:, 0], q[:, 1]
        sloped = r0 != r1
        low, high = np.minimum(r0, r1), np.maximum(r0, r1)
        out = np.zeros((len(rows), len(cols)), dtype=bool)
        fcols = cols.astype(np.float64)
        for i, y in enumerate(rows.astype(np.float64)):
            hit = sloped & (y >= low) & (y < high)
            xs = np.sort(c0[hit] + (y - r0[hit]) * (c1[hit] - c0[hit]) / (r1[hit] - r0[hit]))
            greater = len(xs) - np.searchsorted(xs, fcols, side="right")
            out[i] = greater % 2 == 1
        return out


@dataclass(frozen=True)
class Freehand(Polygon):
    """A closed outline traced by hand; measured exactly like a :class:`Polygon`."""


RoiShape = Ellipse | Rectangle | Polygon
"""Any region outline (:class:`Freehand` is a :class:`Polygon`)."""
