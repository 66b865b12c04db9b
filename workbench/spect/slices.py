"""Reslicing along the LV axes (SA, VLA, HLA) and the surfaces as patient points.

Display conventions of the clinical packages, as index directions of the resliced
``([gate,] z, y, x)`` volume (``z`` slices, ``y`` rows down, ``x`` columns right):

======  =========================  =====================  ======================
view    slices (``z``)             rows (``y``, down)     columns (``x``, right)
======  =========================  =====================  ======================
sa      apex to base               anterior to inferior   septal to lateral
vla     septal to lateral          anterior to inferior   base to apex
hla     inferior to anterior       apex to base           septal to lateral
======  =========================  =====================  ======================

The slab is centred on the long axis origin; the affine of the result maps its voxels to
LPS, so that contours (:func:`surface_points`) and measurements stay in patient space.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import xarray as xr
from scipy import ndimage as ndi

from workbench.spect.reorient import LongAxis
from workbench.spect.segmentation import LvSegmentation
from workbench.spect.volume import affine_of, make_volume, spacing_of, voxel_indices

__all__ = ["View", "reslice", "surface_points"]

F64 = npt.NDArray[np.float64]
View = Literal["sa", "vla", "hla"]
_ORIENTATION = {"sa": "short axis", "vla": "vertical long axis", "hla": "horizontal long axis"}


def _directions(axis: LongAxis, view: View) -> tuple[F64, F64, F64]:
    """Unit LPS directions of increasing (slice, row, column) for `view`."""
    frame = axis.frame
    a, ant, sep = (np.asarray(v) for v in (frame.axis, frame.anterior, frame.septal))
    if view == "sa":
        return -a, -ant, -sep
    if view == "vla":
        return -sep, -ant, a
    if view == "hla":
        return ant, -a, -sep
    raise ValueError(f"view must be 'sa', 'vla' or 'hla', got {view!r}")


def reslice(volume: xr.DataArray, axis: LongAxis, view: View = "sa", *,
            spacing_mm: float | None = None, size_mm: float = 140.0) -> xr.DataArray:  # fmt: skip
    """Resample `volume` on a cube along the LV axes (see module docstring).

    Parameters
    ----------
    volume
        ``([gate,] z, y, x)`` with an affine.
    axis
        The long axis (its origin is the centre of the cube).
    view
        ``"sa"``, ``"vla"`` or ``"hla"``.
    spacing_mm
        Voxel size of the result; None: the smallest of the input.
    size_mm
        Edge of the cube.

    Returns
    -------
    xarray.DataArray
        Same dims as the input, cubic linear interpolation, zero outside.
    """
    step = float(spacing_mm or min(spacing_of(volume)))
    n = max(int(round(size_mm / step)), 2)
    d_slice, d_row, d_col = _directions(axis, view)
    half = (n - 1) / 2
    origin = np.asarray(axis.origin) - half * step * (d_slice + d_row + d_col)
    affine = np.eye(4)
    affine[:3, 0], affine[:3, 1], affine[:3, 2] = d_col * step, d_row * step, d_slice * step
    affine[:3, 3] = origin
    k, i, j = np.meshgrid(np.arange(n), np.arange(n), np.arange(n), indexing="ij")
    pts = origin + (k[..., None] * d_slice + i[..., None] * d_row + j[..., None] * d_col) * step
    idx = voxel_indices(affine_of(volume), pts).reshape(-1, 3).T
    gated = "gate" in volume.dims
    frames = [np.asarray(volume.isel(gate=g).values, np.float64)
              for g in range(volume.sizes["gate"])] if gated else [
        np.asarray(volume.values, np.float64)]  # fmt: skip
    out = np.stack([ndi.map_coordinates(f, idx, order=3, mode="constant").reshape(n, n, n)
                    for f in frames])  # fmt: skip
    times = volume.coords["time_ms"].values.tolist() if "time_ms" in volume.coords else None
    attrs = {k: v for k, v in volume.attrs.items() if k not in ("affine", "orientation")}
    return make_volume(out if gated else out[0], affine, units=str(volume.attrs.get("units", "")),
                       orientation=_ORIENTATION[view], gate_times_ms=times, attrs=attrs)


def surface_points(seg: LvSegmentation, gate: int | None = None,
                   surface: Literal["endo", "mid", "epi"] = "endo") -> F64:  # fmt: skip
    """LPS points ``(rings, sectors, 3)`` of a surface of one gate (None: the summed volume).

    Rings run from apex to base on the sampling grid (those below the valve plane are
    included; mask them with the surface's ``h >= 0``).
    """
    s = seg.summed if gate is None else seg.gates[gate]
    rho, z = {"endo": (s.endo_rho, s.endo_z), "mid": (s.mid_rho, s.mid_z),
              "epi": (s.epi_rho, s.epi_z)}[surface]  # fmt: skip
    return seg.grid.to_patient(rho, z)
