"""Small analytic phantoms and headers for the measurement tests.

* :func:`sphere_volume` - a ball of known radius in a volume with any voxel spacing
  (and, optionally, rotated axes), following the volume convention of
  :mod:`workbench.measure.segment`: dims ``("z", "y", "x")``, mm coordinates,
  ``attrs["affine"]`` (voxel ``(x, y, z)`` -> LPS mm) and ``attrs["units"]``.
* :func:`projection` - a DX/CR/MG header with the spacing attributes under test.
* :func:`ultrasound` - an ultrasound header (from :func:`tests.synth.make_us`) with
  the regions given by :func:`region`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from tests.synth import make_ct, make_us

INSIDE_HU, OUTSIDE_HU = 60.0, -100.0


def affine(spacing: tuple[float, float, float], origin: tuple[float, float, float],
           rotation: npt.NDArray[np.float64] | None = None) -> npt.NDArray[np.float64]:
    """4 x 4 affine for ``(slice, row, col)`` `spacing` in mm, rotated by `rotation`."""
    dz, dy, dx = spacing
    matrix = np.eye(4)
    linear = np.diag([dx, dy, dz])
    matrix[:3, :3] = linear if rotation is None else rotation @ linear
    matrix[:3, 3] = origin
    return matrix


def volume_from(values: npt.NDArray[Any], matrix: npt.NDArray[np.float64],
                units: str = "HU") -> xr.DataArray:
    """Wrap `values` (z, y, x) as a volume with index coordinates scaled to mm."""
    nz, ny, nx = values.shape
    spacing = np.linalg.norm(matrix[:3, :3], axis=0)
    coords = {"z": np.arange(nz) * spacing[2], "y": np.arange(ny) * spacing[1],
              "x": np.arange(nx) * spacing[0]}
    return xr.DataArray(values, dims=("z", "y", "x"), coords=coords,
                        attrs={"affine": matrix.tolist(), "units": units})


def sphere_volume(
    radius: float,
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
    *,
    centre: tuple[float, float, float] = (0.31, -0.17, 0.43),
    margin: float = 4.0,
    rotation: npt.NDArray[np.float64] | None = None,
) -> tuple[xr.DataArray, npt.NDArray[np.bool_]]:
    """Return ``(volume, inside)``: a ball of `radius` mm about LPS `centre`.

    Voxels whose centre lies in the ball hold :data:`INSIDE_HU`, the others
    :data:`OUTSIDE_HU`; ``inside`` is that truth as a numpy mask.
    """
    half = radius + margin
    shape = tuple(int(np.ceil(2 * half / s)) + 1 for s in spacing)
    matrix = affine(spacing, (0.0, 0.0, 0.0), rotation)
    # put the volume's centre voxel on the sphere's centre (plus the offset)
    middle = np.array([(shape[2] - 1) / 2, (shape[1] - 1) / 2, (shape[0] - 1) / 2])
    matrix[:3, 3] = np.asarray(centre) - matrix[:3, :3] @ middle + np.array([0.2, -0.1, 0.3])
    zz, yy, xx = np.meshgrid(*(np.arange(n, dtype=np.float64) for n in shape), indexing="ij")
    xyz = np.stack([xx, yy, zz], axis=-1) @ matrix[:3, :3].T + matrix[:3, 3]
    inside = np.sum((xyz - np.asarray(centre)) ** 2, axis=-1) <= radius**2
    values = np.where(inside, INSIDE_HU, OUTSIDE_HU)
    return volume_from(values, matrix), inside


def rotation(axis: tuple[float, float, float], degrees: float) -> npt.NDArray[np.float64]:
    """Rotation matrix about `axis` (Rodrigues)."""
    k = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    t = np.radians(degrees)
    cross = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.asarray(np.eye(3) + np.sin(t) * cross + (1 - np.cos(t)) * cross @ cross)


def projection(modality: str = "DX", **attributes: Any) -> Dataset:
    """A projection radiograph header: a CT slice's identity with `attributes` set."""
    ds = make_ct(n=1, rows=32, columns=32)[0]
    for keyword in ("PixelSpacing", "ImagePositionPatient", "ImageOrientationPatient"):
        if keyword in ds:
            del ds[keyword]
    ds.Modality = modality
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


def region(x0: int, y0: int, x1: int, y1: int, delta: float | tuple[float, float], *,
           units: tuple[int, int] = (3, 3), spatial_format: int = 1,
           reference: tuple[int, int] | None = (0, 0)) -> Dataset:
    """One Sequence of Ultrasound Regions item; `delta` is (x, y) or both."""
    dx, dy = delta if isinstance(delta, tuple) else (delta, delta)
    item = Dataset()
    item.RegionSpatialFormat = spatial_format
    item.RegionDataType = 1
    item.RegionFlags = 0
    item.RegionLocationMinX0, item.RegionLocationMinY0 = x0, y0
    item.RegionLocationMaxX1, item.RegionLocationMaxY1 = x1, y1
    item.PhysicalUnitsXDirection, item.PhysicalUnitsYDirection = units
    item.PhysicalDeltaX, item.PhysicalDeltaY = dx, dy
    if reference is not None:
        item.ReferencePixelX0, item.ReferencePixelY0 = reference
        item.ReferencePixelPhysicalValueX = 0.0
        item.ReferencePixelPhysicalValueY = 0.0
    return item


def ultrasound(*regions: Dataset) -> Dataset:
    """A 48 x 64 ultrasound header with `regions` (none: no calibration at all)."""
    ds = make_us(n_frames=1)
    if regions:
        ds.SequenceOfUltrasoundRegions = Sequence(list(regions))
    else:
        del ds.SequenceOfUltrasoundRegions
    return ds
