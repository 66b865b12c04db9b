"""Volumes as labelled arrays: dims, millimetre coordinates and the patient affine.

A SPECT volume is an :class:`xarray.DataArray` with dims ``("gate", "z", "y", "x")`` (or
``("z", "y", "x")`` for a summed or ungated one):

* ``x``, ``y``, ``z`` coordinates are millimetres from the centre of the first voxel
  along the column, row and slice directions of the grid (``index * spacing``);
* ``gate`` coordinates are the gate numbers 0..n-1; a ``time_ms`` coordinate on
  ``gate`` gives the start of each gate after the R wave when the R-R interval is known;
* ``attrs["affine"]`` is a 4 x 4 nested list mapping homogeneous voxel ``(x, y, z, 1)``
  (column, row, slice, zero-based) to DICOM patient LPS millimetres;
* ``attrs["units"]`` says what the values are (``"counts"``);
* ``attrs["orientation"]`` names the grid: ``"transaxial"``, ``"short axis"``,
  ``"vertical long axis"``, ``"horizontal long axis"`` or ``"unknown"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr

__all__ = ["affine_of", "make_volume", "patient_points", "spacing_of", "summed", "voxel_indices"]

F64 = npt.NDArray[np.float64]


def make_volume(
    values: npt.ArrayLike,
    affine: npt.ArrayLike,
    *,
    units: str = "counts",
    orientation: str = "transaxial",
    gate_times_ms: Sequence[float] | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> xr.DataArray:
    """Return `values` ``([gate,] z, y, x)`` as a labelled volume (see module docstring).

    Parameters
    ----------
    values
        3-D ``(z, y, x)`` or 4-D ``(gate, z, y, x)`` array.
    affine
        4 x 4 voxel ``(x, y, z, 1)`` to LPS mm matrix.
    units, orientation
        ``attrs["units"]`` and ``attrs["orientation"]``.
    gate_times_ms
        Start time of each gate after the R wave (4-D only).
    attrs
        Further attributes (copied).

    Returns
    -------
    xarray.DataArray
    """
    data = np.asarray(values)
    a = np.asarray(affine, np.float64)
    if a.shape != (4, 4):
        raise ValueError(f"affine must be 4 x 4, got {a.shape}")
    if data.ndim not in (3, 4):
        raise ValueError(f"a volume is (z, y, x) or (gate, z, y, x), got shape {data.shape}")
    spacing = np.linalg.norm(a[:3, :3], axis=0)  # x, y, z
    dims = ("gate", "z", "y", "x") if data.ndim == 4 else ("z", "y", "x")
    nz, ny, nx = data.shape[-3:]
    coords: dict[str, Any] = {"z": np.arange(nz) * spacing[2], "y": np.arange(ny) * spacing[1],
                              "x": np.arange(nx) * spacing[0]}  # fmt: skip
    if data.ndim == 4:
        coords["gate"] = np.arange(data.shape[0])
        if gate_times_ms is not None:
            if len(gate_times_ms) != data.shape[0]:
                raise ValueError("gate_times_ms needs one value per gate")
            coords["time_ms"] = ("gate", np.asarray(gate_times_ms, np.float64))
    out_attrs = dict(attrs or {})
    out_attrs.update(affine=a.tolist(), units=units, orientation=orientation)
    return xr.DataArray(data, dims=dims, coords=coords, attrs=out_attrs)


def affine_of(volume: xr.DataArray) -> F64:
    """Return ``attrs["affine"]`` as a new 4 x 4 float array."""
    if "affine" not in volume.attrs:
        raise ValueError("volume has no attrs['affine'] (voxel to LPS mm)")
    return np.array(volume.attrs["affine"], dtype=np.float64)


def spacing_of(volume: xr.DataArray) -> tuple[float, float, float]:
    """Return voxel size ``(dz, dy, dx)`` in mm from the affine."""
    s = np.linalg.norm(affine_of(volume)[:3, :3], axis=0)
    return float(s[2]), float(s[1]), float(s[0])


def patient_points(affine: npt.ArrayLike, indices_zyx: npt.ArrayLike) -> F64:
    """Return LPS mm ``(..., 3)`` of voxel indices ``(..., 3)`` given as ``(z, y, x)``."""
    a = np.asarray(affine, np.float64)
    idx = np.asarray(indices_zyx, np.float64)[..., ::-1]
    return np.asarray(idx @ a[:3, :3].T + a[:3, 3])


def voxel_indices(affine: npt.ArrayLike, points: npt.ArrayLike) -> F64:
    """Return fractional voxel indices ``(..., 3)`` as ``(z, y, x)`` of LPS points ``(..., 3)``."""
    a = np.asarray(affine, np.float64)
    inv = np.linalg.inv(a)
    p = np.asarray(points, np.float64)
    xyz = p @ inv[:3, :3].T + inv[:3, 3]
    return np.asarray(xyz[..., ::-1])


def summed(volume: xr.DataArray) -> xr.DataArray:
    """Return the ungated volume: the sum over ``gate`` (as float), attrs kept."""
    if "gate" not in volume.dims:
        return volume.astype(np.float64)
    out = volume.astype(np.float64).sum("gate", keep_attrs=True)
    return out.drop_vars([c for c in out.coords if c not in out.dims])
