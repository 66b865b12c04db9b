"""Checks and transforms for volumes and masks (the xarray convention of volumetrics).

A volume is an :class:`xarray.DataArray` with dims ``("z", "y", "x")`` (slice, row,
column), coordinates in mm, ``attrs["affine"]`` a 4 x 4 matrix (nested lists or an
array) mapping homogeneous voxel indices ``(x=col, y=row, z=slice, 1)`` to patient LPS
mm, and ``attrs["units"]`` naming the voxel values (``"HU"``). A mask is a boolean
DataArray with the same dims, shape and coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import xarray as xr

from workbench.measure.calibration import Calibration, CalibrationKind
from workbench.measure.units import MILLIMETRE

DIMS = ("z", "y", "x")
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def affine(array: xr.DataArray) -> FloatArray:
    """Return ``attrs["affine"]`` as a 4 x 4 float array, after checking dims and values.

    Raises
    ------
    ValueError
        Dims are not ``("z", "y", "x")``, or the affine is missing, not 4 x 4, not
        finite, or singular.
    """
    if tuple(array.dims) != DIMS:
        raise ValueError(f"a volume has dims {DIMS}, got {tuple(array.dims)}")
    if "affine" not in array.attrs:
        raise ValueError('the volume has no attrs["affine"] (voxel index -> patient LPS mm)')
    matrix = np.asarray(array.attrs["affine"], dtype=np.float64)
    if matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)):
        raise ValueError(f'attrs["affine"] must be a finite 4 x 4 matrix, got {matrix.shape}')
    if abs(np.linalg.det(matrix[:3, :3])) < 1e-12:
        raise ValueError('attrs["affine"] is singular')
    return matrix


def check_mask(mask: xr.DataArray, volume: xr.DataArray) -> BoolArray:
    """Return the mask's values after checking it is boolean and aligned with `volume`.

    Raises
    ------
    ValueError
        Different dims, shape or coordinates, or not boolean.
    """
    if tuple(mask.dims) != tuple(volume.dims) or mask.shape != volume.shape:
        raise ValueError(
            f"mask {tuple(mask.dims)} {mask.shape} is not aligned with volume "
            f"{tuple(volume.dims)} {volume.shape}"
        )
    if mask.dtype != np.bool_:
        raise ValueError(f"a mask is boolean, got {mask.dtype}")
    for name in DIMS:
        if name in mask.coords and name in volume.coords and not np.array_equal(
            mask.coords[name].values, volume.coords[name].values
        ):
            raise ValueError(f"mask and volume differ in their {name!r} coordinates")
    return np.asarray(mask.values)


_VALUE_ATTRS = ("units", "window", "photometric_interpretation")


def like(volume: xr.DataArray, data: npt.NDArray[np.generic], name: str) -> xr.DataArray:
    """Return `data` as a DataArray with `volume`'s dims, coordinates and geometry attrs.

    Attributes that describe the values (units, window) are left out.
    """
    attrs = {k: v for k, v in volume.attrs.items() if k not in _VALUE_ATTRS}
    return xr.DataArray(data, dims=volume.dims, coords=volume.coords, name=name, attrs=attrs)


def spacing(matrix: FloatArray) -> tuple[float, float, float]:
    """Return ``(slice, row, column)`` voxel spacing in mm from an affine."""
    norms = np.linalg.norm(matrix[:3, :3], axis=0)
    return float(norms[2]), float(norms[1]), float(norms[0])


def voxel_volume_mm3(matrix: FloatArray) -> float:
    """Return the volume of one voxel in mm³ (``|det|`` of the affine's linear part)."""
    return float(abs(np.linalg.det(matrix[:3, :3])))


def calibration(matrix: FloatArray) -> Calibration:
    """Return the :class:`Calibration` of a volume (kind ``VOLUME``)."""
    dz, dy, dx = spacing(matrix)
    return Calibration(CalibrationKind.VOLUME, dy, dx, MILLIMETRE, slice_spacing=dz,
                       detail='attrs["affine"]')


def to_patient(matrix: FloatArray, zyx: npt.ArrayLike) -> FloatArray:
    """Map ``(n, 3)`` voxel indices in ``(z, y, x)`` order to ``(n, 3)`` LPS mm."""
    idx = np.asarray(zyx, dtype=np.float64).reshape(-1, 3)[:, ::-1]
    return np.asarray(idx @ matrix[:3, :3].T + matrix[:3, 3])


def to_index(matrix: FloatArray, points_mm: Sequence[Sequence[float]]) -> FloatArray:
    """Map ``(n, 3)`` LPS mm points to fractional ``(z, y, x)`` voxel indices."""
    p = np.asarray(points_mm, dtype=np.float64).reshape(-1, 3)
    xyz = np.linalg.solve(matrix[:3, :3], (p - matrix[:3, 3]).T).T
    return np.asarray(xyz[:, ::-1])


def nearest_voxels(
    matrix: FloatArray, points_mm: Sequence[Sequence[float]], shape: tuple[int, ...],
    *, what: str = "point",
) -> list[tuple[int, int, int]]:
    """Return the ``(z, y, x)`` voxel containing each LPS mm point.

    Raises
    ------
    ValueError
        A point lies outside the volume (the message calls it `what` and gives the
        volume's extent).
    """
    out = []
    for point, idx in zip(points_mm, np.floor(to_index(matrix, points_mm) + 0.5), strict=True):
        voxel = (int(idx[0]), int(idx[1]), int(idx[2]))
        if not all(0 <= v < n for v, n in zip(voxel, shape, strict=True)):
            given = ", ".join(f"{float(c):g}" for c in point)
            raise ValueError(f"{what} ({given}) mm lies outside the volume, whose voxel "
                             f"centres span {extent(matrix, shape)}")
        out.append(voxel)
    return out


def extent(matrix: FloatArray, shape: tuple[int, ...]) -> str:
    """Describe the LPS mm range of a volume's voxel centres, e.g. ``"x -10..10, ..."``."""
    corners = [[z, y, x] for z in (0, shape[0] - 1) for y in (0, shape[1] - 1)
               for x in (0, shape[2] - 1)]
    mm = to_patient(matrix, corners)
    return ", ".join(f"{axis} {lo:.1f}..{hi:.1f}" for axis, lo, hi in
                     zip("xyz", mm.min(axis=0), mm.max(axis=0), strict=True))


def bounding_slices(mask: BoolArray) -> tuple[slice, slice, slice] | None:
    """Return the ``(z, y, x)`` slices of the smallest box holding every True voxel.

    Only the first pass (which slices hold any voxel) reads the whole mask; rows and
    columns are then searched within those slices.
    """
    slices = np.flatnonzero(mask.reshape(mask.shape[0], -1).any(axis=1))
    if slices.size == 0:
        return None
    z = slice(int(slices[0]), int(slices[-1]) + 1)
    rows = np.flatnonzero(mask[z].any(axis=(0, 2)))
    y = slice(int(rows[0]), int(rows[-1]) + 1)
    columns = np.flatnonzero(mask[z, y].any(axis=(0, 1)))
    return z, y, slice(int(columns[0]), int(columns[-1]) + 1)
