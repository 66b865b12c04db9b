"""Resampling a volume onto a regular, orthogonal grid (gantry tilt, uneven spacing).

Conventions as in :mod:`workbench.imaging.volume`: dims ``("z", "y", "x")``, mm
coordinates, LPS patient space. The output keeps the first slice's origin and
orientation; its slices are stacked along the normal at a constant spacing, so its
affine is exact. Needs scipy (the ``analysis`` extra), imported on first use.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr

from workbench.imaging._optional import require
from workbench.imaging.geometry import VolumeGeometry
from workbench.imaging.volume import geometry_of, volume_dataarray

__all__ = ["resample"]

_PER_SLICE = ("sop_instance_uid", "frame")


def resample(
    volume: xr.DataArray,
    spacing: float | tuple[float, float, float] | None = None,
    *,
    order: int = 1,
    fill: float = math.nan,
) -> xr.DataArray:
    """Return `volume` on a regular grid stacked along the slice normal.

    Each output slice at distance ``d`` along the normal blends the two source slices
    around ``d`` linearly, each sampled where the normal through the output pixel
    meets it, which undoes the shear of a gantry tilt and evens out the spacing.
    In-plane sampling uses spline order `order` (1: bilinear).

    Parameters
    ----------
    volume
        A volume from :func:`~workbench.imaging.volume.series_volume` (or a cut of one).
    spacing
        ``(dz, dy, dx)`` in mm; a number means isotropic voxels; ``None`` keeps the
        pixel spacing and uses the median slice spacing.
    order
        Spline order in-plane, 0-5. Order 1 keeps NaN padding local; higher orders
        replace NaN by the volume's finite minimum first.
    fill
        Value of output voxels outside the source (default NaN).

    Returns
    -------
    xarray.DataArray
        A new ``float32`` volume spanning the first to the last source slice and the
        first slice's rows and columns, with fresh geometry attributes (``tilted``
        and ``uneven`` False) and ``resampled`` True; the other attributes are kept
        (``sop_instance_uids`` then lists the source instances, not one per slice).
        An already regular volume with ``spacing=None`` is returned as a shallow copy.

    Raises
    ------
    ImportError
        scipy is not installed (names the ``analysis`` extra).
    ValueError
        A spacing that is not positive.

    Examples
    --------
    >>> from workbench.demo import DEMO_PATIENTS, ct_series
    >>> from workbench.imaging.volume import series_volume
    >>> volume = series_volume(ct_series(DEMO_PATIENTS[0], seed=1, n_slices=3, rows=16,
    ...                                  columns=16, slice_thickness=2.0))
    >>> resample(volume, 1.0).attrs["spacing"], resample(volume, 1.0).shape
    ((1.0, 1.0, 1.0), (5, 11, 11))
    """
    source = geometry_of(volume)
    if spacing is None and source.is_regular:
        return volume.copy(deep=False)
    ndimage = require("scipy.ndimage", "resampling a volume")
    dz, dy, dx = _target_spacing(source, spacing)
    target = _target_geometry(source, dz, dy, dx)
    data = np.asarray(volume.transpose("z", "y", "x").values, dtype=np.float32)
    if order > 1 and np.isnan(data).any():
        data = np.nan_to_num(data, nan=float(np.nanmin(data)) if np.isfinite(data).any() else 0.0)
    out = np.zeros(target.shape, dtype=np.float32)
    for k in range(target.shape[0]):
        for index, weight in _neighbours(source.positions, k * dz):
            if weight > 0.0:
                out[k] += weight * _sample(ndimage, data[index], source, index, target, order, fill)
    attrs = dict(volume.attrs)
    attrs["resampled"] = True
    result = volume_dataarray(out, target, attrs)
    return result.drop_vars([name for name in _PER_SLICE if name in result.coords])


def _target_spacing(
    source: VolumeGeometry, spacing: float | tuple[float, float, float] | None
) -> tuple[float, float, float]:
    if spacing is None:
        values = source.spacing
    elif isinstance(spacing, int | float):
        values = (float(spacing),) * 3
    else:
        values = tuple(float(s) for s in spacing)  # type: ignore[assignment]
    if len(values) != 3 or not all(math.isfinite(s) and s > 0 for s in values):
        raise ValueError(f"spacing {spacing!r} must be positive mm (dz, dy, dx)")
    return values[0], values[1], values[2]


def _target_geometry(source: VolumeGeometry, dz: float, dy: float, dx: float) -> VolumeGeometry:
    span = float(source.positions[-1])
    count = math.floor(span / dz + 1e-6) + 1
    rows = math.floor((source.rows - 1) * source.spacing_yx[0] / dy + 1e-6) + 1
    columns = math.floor((source.columns - 1) * source.spacing_yx[1] / dx + 1e-6) + 1
    first, normal = np.asarray(source.origins[0]), np.asarray(source.normal)
    origins = tuple(_vector(first + k * dz * normal) for k in range(count))
    return VolumeGeometry(origins, source.row_cosine, source.column_cosine, (dy, dx), rows,
                          columns, dz, source.tolerance)  # fmt: skip


def _neighbours(positions: npt.NDArray[np.float64], distance: float) -> list[tuple[int, float]]:
    """Source slices around `distance` along the normal, with linear weights."""
    if len(positions) == 1:
        return [(0, 1.0)]
    j = int(np.clip(np.searchsorted(positions, distance) - 1, 0, len(positions) - 2))
    weight = (distance - positions[j]) / (positions[j + 1] - positions[j])
    weight = min(max(weight, 0.0), 1.0)
    return [(j, 1.0 - weight), (j + 1, weight)]


def _sample(
    ndimage: Any,
    image: npt.NDArray[np.float32],
    source: VolumeGeometry,
    index: int,
    target: VolumeGeometry,
    order: int,
    fill: float,
) -> npt.NDArray[np.float32]:
    """Source slice `index` sampled on the target's in-plane grid, along the normal."""
    off_y, off_x = (float(v) for v in source.in_plane_offsets[index])
    sy, sx = source.spacing_yx
    ty, tx = target.spacing_yx
    scale = (ty / sy, tx / sx)
    offset = (-off_y / sy, -off_x / sx)
    if scale == (1.0, 1.0) and offset == (0.0, 0.0) and image.shape == target.shape[1:]:
        return image
    sampled = ndimage.affine_transform(
        image, scale, offset=offset, output_shape=target.shape[1:], order=order,
        mode="constant", cval=fill, prefilter=order > 1,
    )  # fmt: skip
    return np.asarray(sampled, dtype=np.float32)


def _vector(values: npt.ArrayLike) -> tuple[float, float, float]:
    x, y, z = (float(v) for v in np.asarray(values, dtype=np.float64))
    return x, y, z
