"""Image planes and volumes in patient space, as immutable values.

Conventions, everywhere in :mod:`workbench.imaging`:

* Patient coordinates are DICOM's LPS in millimetres: +x towards the patient's left,
  +y posterior, +z superior (PS3.3 C.7.6.2.1.1).
* Pixel indices are zero-based ``(row, col)`` from the top-left pixel; a pixel's
  index is its centre. Voxel indices are ``(slice, row, col)``, the order of the
  ``("z", "y", "x")`` dims of a volume.
* The *row cosine* is Image Orientation (Patient)[0:3], the direction in which the
  column index grows along a row; the *column cosine* is [3:6], the direction in
  which the row index grows. Pixel Spacing is ``(between rows, between columns)``.
* The slice normal is ``row cosine x column cosine``; slices are ordered by the
  projection of their Image Position (Patient) on it, never by file or number.
* An *affine* is a 4 x 4 matrix mapping homogeneous ``(col, row, slice, 1)`` to LPS.

Operations return new objects; nothing here is modified in place.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

__all__ = ["PlaneGeometry", "Vector", "VolumeGeometry", "orthonormal_cosines"]

Vector = tuple[float, float, float]
FloatArray = npt.NDArray[np.float64]


def orthonormal_cosines(values: Sequence[float]) -> tuple[Vector, Vector]:
    """Return (row cosine, column cosine) of Image Orientation (Patient), made orthonormal.

    Stored cosines are rounded decimal strings; each is normalised and the column
    cosine made exactly perpendicular to the row cosine (Gram-Schmidt), so that
    transforms round-trip to machine precision.

    Raises
    ------
    ValueError
        Not six finite numbers, a zero vector, or cosines further than 0.01 from
        perpendicular (names ImageOrientationPatient).
    """
    v = np.asarray([float(x) for x in values], dtype=np.float64)
    if v.shape != (6,) or not np.all(np.isfinite(v)):
        raise ValueError(f"ImageOrientationPatient {list(values)!r} is not six numbers")
    row, col = v[:3], v[3:]
    norms = np.linalg.norm(row), np.linalg.norm(col)
    if min(norms) < 1e-6:
        raise ValueError(f"ImageOrientationPatient {list(values)!r} has a zero vector")
    row, col = row / norms[0], col / norms[1]
    if abs(float(row @ col)) > 0.01:
        raise ValueError(f"ImageOrientationPatient {list(values)!r}: cosines not perpendicular")
    col = col - (row @ col) * row
    col /= np.linalg.norm(col)
    return _vector(row), _vector(col)


@dataclass(frozen=True)
class PlaneGeometry:
    """One image plane in patient space (Image Plane module, PS3.3 C.7.6.2).

    Attributes
    ----------
    origin
        LPS mm of the centre of pixel ``(row 0, col 0)``: Image Position (Patient).
    row_cosine, column_cosine
        Unit vectors along increasing column and increasing row index (orthonormal,
        see :func:`orthonormal_cosines`).
    spacing
        ``(row_spacing, column_spacing)`` in mm: Pixel Spacing, between the centres of
        adjacent rows and of adjacent columns.
    rows, columns
        Image size in pixels.
    """

    origin: Vector
    row_cosine: Vector
    column_cosine: Vector
    spacing: tuple[float, float]
    rows: int
    columns: int

    def __post_init__(self) -> None:
        if not all(s > 0 and math.isfinite(s) for s in self.spacing):
            raise ValueError(f"PixelSpacing {self.spacing!r} must be positive")

    @property
    def normal(self) -> Vector:
        """Unit normal ``row_cosine x column_cosine``."""
        return _vector(np.cross(self.row_cosine, self.column_cosine))

    def pixel_to_patient(self, row: npt.ArrayLike, col: npt.ArrayLike) -> FloatArray:
        """Return LPS mm of (fractional, zero-based) pixel ``(row, col)``.

        ``P = origin + col * column_spacing * row_cosine + row * row_spacing *
        column_cosine`` (PS3.3 C.7.6.2.1.1). Shape: the broadcast shape of `row` and
        `col` plus a trailing axis of 3.

        Examples
        --------
        >>> plane = PlaneGeometry((-100.0, -50.0, 10.0), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0),
        ...                       (0.5, 0.25), 4, 8)
        >>> plane.pixel_to_patient(2, 4).tolist()  # row 2, column 4
        [-99.0, -49.0, 10.0]
        >>> plane.patient_to_pixel([-99.0, -49.0, 12.0]).tolist()
        [2.0, 4.0]
        """
        r, c = np.broadcast_arrays(np.asarray(row, np.float64), np.asarray(col, np.float64))
        along_row = np.multiply.outer(c * self.spacing[1], self.row_cosine)
        along_col = np.multiply.outer(r * self.spacing[0], self.column_cosine)
        return np.asarray(self.origin) + along_row + along_col

    def patient_to_pixel(self, points: npt.ArrayLike) -> FloatArray:
        """Return ``(row, col)`` of LPS points projected onto the plane.

        `points` has shape ``(..., 3)``; the result ``(..., 2)``, fractional and
        zero-based. Use :meth:`distance` for how far the points lie off the plane.
        """
        offset = np.asarray(points, np.float64) - np.asarray(self.origin)
        row = offset @ np.asarray(self.column_cosine) / self.spacing[0]
        col = offset @ np.asarray(self.row_cosine) / self.spacing[1]
        return np.stack([row, col], axis=-1)

    def distance(self, points: npt.ArrayLike) -> FloatArray:
        """Signed distance in mm of LPS points ``(..., 3)`` from the plane, along the normal."""
        offset = np.asarray(points, np.float64) - np.asarray(self.origin)
        return np.asarray(offset @ np.asarray(self.normal), dtype=np.float64)


@dataclass(frozen=True)
class VolumeGeometry:
    """A stack of parallel image planes: where every voxel of a volume lies.

    The slices need not be evenly spaced nor stacked along their normal (gantry
    tilt shears the stack): each keeps its own origin, and :meth:`voxel_to_patient`
    interpolates between them, so it is exact for every slice. The flags report
    what a regular grid would get wrong; :func:`workbench.imaging.resample.resample`
    removes both.

    Attributes
    ----------
    origins
        Image Position (Patient) of each slice, LPS mm, in slice order (increasing
        projection on the normal).
    row_cosine, column_cosine
        Orientation shared by every slice (orthonormal).
    spacing_yx
        ``(row_spacing, column_spacing)`` in mm.
    rows, columns
        Slice size in pixels.
    slice_thickness
        Nominal thickness (mm), used as the slice spacing of a one-slice volume.
    tolerance
        Position differences (mm) that count as equal: slices closer than this are
        duplicates; in-plane offsets and spacing deviations below it (or below 0.5 %
        of the median spacing) are ignored.
    """

    origins: tuple[Vector, ...]
    row_cosine: Vector
    column_cosine: Vector
    spacing_yx: tuple[float, float]
    rows: int
    columns: int
    slice_thickness: float = 1.0
    tolerance: float = 0.01

    def __post_init__(self) -> None:
        if not self.origins:
            raise ValueError("a volume needs at least one slice (ImagePositionPatient)")
        gaps = np.diff(self.positions)
        if gaps.size and float(gaps.min()) < self.tolerance:
            k = int(np.argmin(gaps))
            raise ValueError(
                f"ImagePositionPatient: slices {k} and {k + 1} lie {float(gaps[k]):.4g} mm "
                "apart along the normal (duplicates or unsorted); a series with several "
                "volumes (time points, echoes) must be split first"
            )

    # -- derived values ---------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(slices, rows, columns)``."""
        return len(self.origins), self.rows, self.columns

    @property
    def normal(self) -> Vector:
        """Unit slice normal ``row_cosine x column_cosine``."""
        return _vector(np.cross(self.row_cosine, self.column_cosine))

    @cached_property
    def positions(self) -> FloatArray:
        """Signed distance (mm) of each slice from the first, along the normal
        (a read-only array)."""
        offsets = np.asarray(self.origins, np.float64) - np.asarray(self.origins[0])
        out = np.asarray(offsets @ np.asarray(self.normal), dtype=np.float64)
        out.flags.writeable = False
        return out

    @cached_property
    def in_plane_offsets(self) -> FloatArray:
        """``(n, 2)`` mm offset of each slice origin from the first, along the column
        and row cosines (``(y, x)``); all zero unless the stack is sheared (tilt)."""
        offsets = np.asarray(self.origins, np.float64) - np.asarray(self.origins[0])
        out = np.asarray(offsets @ np.asarray([self.column_cosine, self.row_cosine]).T, np.float64)
        out.flags.writeable = False
        return out

    @property
    def slice_spacing(self) -> float:
        """Median distance (mm) between adjacent slices; the thickness for one slice."""
        gaps = np.diff(self.positions)
        return float(np.median(gaps)) if gaps.size else float(self.slice_thickness)

    @property
    def spacing(self) -> tuple[float, float, float]:
        """``(dz, dy, dx)`` in mm: :attr:`slice_spacing` and Pixel Spacing."""
        return self.slice_spacing, self.spacing_yx[0], self.spacing_yx[1]

    @property
    def tilt_degrees(self) -> float:
        """Angle between the stacking direction (first to last origin) and the normal."""
        if len(self.origins) < 2:
            return 0.0
        shift = float(np.linalg.norm(self.in_plane_offsets[-1]))
        return math.degrees(math.atan2(shift, float(self.positions[-1])))

    @property
    def is_tilted(self) -> bool:
        """Whether slice origins move within the image plane (gantry tilt, shear)."""
        return bool(np.abs(self.in_plane_offsets).max() > self.tolerance)

    @property
    def is_uneven(self) -> bool:
        """Whether the slice spacing varies (missing slices, mixed reconstructions)."""
        gaps = np.diff(self.positions)
        if gaps.size < 2:
            return False
        limit = max(self.tolerance, 0.005 * self.slice_spacing)
        return bool(np.abs(gaps - self.slice_spacing).max() > limit)

    @property
    def is_regular(self) -> bool:
        """Neither tilted nor uneven: the affine is exact and the grid orthogonal."""
        return not (self.is_tilted or self.is_uneven)

    @property
    def warnings(self) -> tuple[str, ...]:
        """Human-readable reasons why the volume is not a regular grid."""
        out: list[str] = []
        if self.is_tilted:
            out.append(
                f"gantry tilt {self.tilt_degrees:.2f} degrees: slices are sheared "
                "(resample() gives an orthogonal grid)"
            )
        if self.is_uneven:
            gaps = np.diff(self.positions)
            out.append(
                f"uneven slice spacing {gaps.min():.3g}-{gaps.max():.3g} mm (median "
                f"{self.slice_spacing:.3g}); the affine is approximate, resample() regularises"
            )
        return tuple(out)

    @property
    def affine(self) -> FloatArray:
        """4 x 4 matrix from ``(col, row, slice, 1)`` to LPS mm (a new array).

        Columns: ``row_cosine * dx``, ``column_cosine * dy``, the mean step between
        slice origins (sheared when tilted), the first origin. Exact when
        :attr:`is_tilted` is constant and spacing even; else an approximation.
        """
        out = np.eye(4)
        out[:3, 0] = np.asarray(self.row_cosine) * self.spacing_yx[1]
        out[:3, 1] = np.asarray(self.column_cosine) * self.spacing_yx[0]
        n = len(self.origins)
        first = np.asarray(self.origins[0])
        if n > 1:
            out[:3, 2] = (np.asarray(self.origins[-1]) - first) / (n - 1)
        else:
            out[:3, 2] = np.asarray(self.normal) * self.slice_thickness
        out[:3, 3] = first
        return out

    # -- transforms -------------------------------------------------------------------

    def plane(self, index: int) -> PlaneGeometry:
        """Return the geometry of slice `index` (zero-based)."""
        return PlaneGeometry(self.origins[index], self.row_cosine, self.column_cosine,
                             self.spacing_yx, self.rows, self.columns)  # fmt: skip

    def slice_origin(self, index: npt.ArrayLike) -> FloatArray:
        """LPS origin of fractional slice `index`: linear between slices, extrapolated
        beyond the ends from the nearest two. Shape ``index.shape + (3,)``."""
        k = np.asarray(index, np.float64)
        origins = np.asarray(self.origins, np.float64)
        if len(origins) == 1:
            along = np.multiply.outer(k * self.slice_thickness, self.normal)
            return np.asarray(origins[0] + along, dtype=np.float64)
        k0 = np.clip(np.floor(k), 0, len(origins) - 2).astype(np.intp)
        weight = (k - k0)[..., None]
        return np.asarray(origins[k0] * (1 - weight) + origins[k0 + 1] * weight)

    def voxel_to_patient(self, indices: npt.ArrayLike) -> FloatArray:
        """Return LPS mm of voxel indices ``(..., 3)`` = ``(slice, row, col)``, zero-based.

        Fractional indices interpolate linearly between slice origins, so the
        result is exact for tilted and unevenly spaced stacks too.
        """
        idx = np.asarray(indices, np.float64)
        origin = self.slice_origin(idx[..., 0])
        dy, dx = self.spacing_yx
        return np.asarray(origin + np.multiply.outer(idx[..., 1] * dy, self.column_cosine)
                          + np.multiply.outer(idx[..., 2] * dx, self.row_cosine))  # fmt: skip

    def patient_to_voxel(self, points: npt.ArrayLike) -> FloatArray:
        """Return fractional ``(slice, row, col)`` of LPS points ``(..., 3)``.

        The inverse of :meth:`voxel_to_patient`: the slice index comes from the
        distance along the normal (interpolated between slice positions,
        extrapolated beyond the ends), row and column from the offset to that
        fractional slice's origin.
        """
        p = np.asarray(points, np.float64)
        first = np.asarray(self.origins[0])
        distance = (p - first) @ np.asarray(self.normal)
        positions = self.positions
        if len(positions) == 1:
            k = distance / self.slice_thickness
        else:
            j = np.clip(np.searchsorted(positions, distance) - 1, 0, len(positions) - 2)
            k = j + (distance - positions[j]) / (positions[j + 1] - positions[j])
        offset = p - self.slice_origin(k)
        row = offset @ np.asarray(self.column_cosine) / self.spacing_yx[0]
        col = offset @ np.asarray(self.row_cosine) / self.spacing_yx[1]
        return np.asarray(np.stack([k, row, col], axis=-1), dtype=np.float64)

    def subset(self, slices: Sequence[int], row_start: int = 0, col_start: int = 0,
               rows: int | None = None, columns: int | None = None,
               step: tuple[int, int] = (1, 1)) -> VolumeGeometry:  # fmt: skip
        """Return the geometry of a sub-volume: the given slices (zero-based, in
        order), rows from `row_start` and columns from `col_start` every `step`."""
        dy, dx = self.spacing_yx
        shift = (np.asarray(self.column_cosine) * row_start * dy
                 + np.asarray(self.row_cosine) * col_start * dx)  # fmt: skip
        origins = tuple(_vector(np.asarray(self.origins[k]) + shift) for k in slices)
        return VolumeGeometry(
            origins, self.row_cosine, self.column_cosine, (dy * step[0], dx * step[1]),
            self.rows if rows is None else rows, self.columns if columns is None else columns,
            self.slice_thickness, self.tolerance,
        )  # fmt: skip


def _vector(values: npt.ArrayLike) -> Vector:
    x, y, z = (float(v) for v in np.asarray(values, dtype=np.float64))
    return x, y, z
