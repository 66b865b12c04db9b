"""Count profiles on an LV-centred hybrid grid: a hemisphere at the apex, a cylinder below.

The grid is fixed for a study (it is set on the summed volume) and shared by all gates.
In the frame of :class:`SamplingGrid` (origin ``C`` on the long axis, axial coordinate
``z`` growing towards the apex, polar angle ``theta`` of :mod:`workbench.spect.lvframe`):

* **cap rings** ``i < n_cap``: rays from ``C`` at angle ``psi`` from the axis
  (``psi`` from ``dpsi/2`` to ``90 - dpsi/2`` degrees);
* **cylinder rings** ``i >= n_cap``: rays perpendicular to the axis from the points
  ``C - s axis``, ``s`` from ``ds/2`` towards the base.

Rings are ordered from the apex to the base; sectors by ``theta`` (``(j + 0.5) * 360 /
n_sectors``). A profile holds the counts at distances ``t`` (mm) along a ray, sampled by
cubic spline interpolation of the volume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from workbench.spect.lvframe import LvFrame
from workbench.spect.volume import voxel_indices

__all__ = ["SamplingGrid", "make_grid", "sample_profiles", "smooth_map", "window"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class SamplingGrid:
    """Rays of the hybrid grid (see module docstring); lengths in mm, angles in degrees.

    Attributes
    ----------
    frame
        LV frame whose origin is the centre ``C`` of the apical hemisphere.
    psi_deg
        Polar angle of each cap ring.
    s_mm
        Distance below ``C`` of each cylinder ring.
    theta_deg
        Polar angle of each sector.
    t_mm
        Sample distances along every ray.
    """

    frame: LvFrame
    psi_deg: tuple[float, ...]
    s_mm: tuple[float, ...]
    theta_deg: tuple[float, ...]
    t_mm: tuple[float, ...]

    @property
    def shape(self) -> tuple[int, int]:
        """``(rings, sectors)``."""
        return len(self.psi_deg) + len(self.s_mm), len(self.theta_deg)

    @property
    def n_cap(self) -> int:
        """Number of cap rings."""
        return len(self.psi_deg)

    def meridian_directions(self) -> tuple[F64, F64]:
        """Ray direction in the meridian plane per ring: ``(radial, axial)`` components."""
        psi = np.radians(np.asarray(self.psi_deg))
        radial = np.concatenate([np.sin(psi), np.ones(len(self.s_mm))])
        axial = np.concatenate([np.cos(psi), np.zeros(len(self.s_mm))])
        return radial, axial

    def ray_origin_z(self) -> F64:
        """Axial position of each ring's ray origin (0 for the cap, ``-s`` below)."""
        return np.concatenate([np.zeros(len(self.psi_deg)), -np.asarray(self.s_mm)])

    def rays(self) -> tuple[F64, F64]:
        """LPS origins and unit directions of all rays, each ``(rings, sectors, 3)``."""
        radial, axial = self.meridian_directions()
        inplane = self.frame.direction(np.asarray(self.theta_deg))  # (sectors, 3)
        a = np.asarray(self.frame.axis)
        dirs = radial[:, None, None] * inplane[None] + axial[:, None, None] * a
        origins = np.asarray(self.frame.origin) + self.ray_origin_z()[:, None, None] * a
        origins = np.broadcast_to(origins, dirs.shape)
        return np.asarray(origins), np.asarray(dirs)

    def to_meridian(self, t: F64) -> tuple[F64, F64]:
        """Radius from the axis and axial position (mm) of the points at distances `t`
        ``(rings, sectors)`` along the rays."""
        radial, axial = self.meridian_directions()
        rho = t * radial[:, None]
        z = self.ray_origin_z()[:, None] + t * axial[:, None]
        return rho, z

    def to_patient(self, rho: F64, z: F64) -> F64:
        """LPS points ``(rings, sectors, 3)`` of meridian coordinates."""
        inplane = self.frame.direction(np.asarray(self.theta_deg))
        a = np.asarray(self.frame.axis)
        return np.asarray(np.asarray(self.frame.origin) + rho[..., None] * inplane[None]
                          + z[..., None] * a)  # fmt: skip


def make_grid(frame: LvFrame, cap_radius: float, length: float, *, step: float = 2.5,
              n_sectors: int = 48, reach: float = 75.0) -> SamplingGrid:  # fmt: skip
    """Return a grid with rings about `step` mm apart on a wall `cap_radius` from ``C``.

    Parameters
    ----------
    frame
        Origin ``C`` (centre of the apical hemisphere) and long axis.
    cap_radius
        Expected distance of the apical wall from ``C`` (sets the cap ring count).
    length
        How far below ``C`` the cylinder goes (past the valve plane).
    step, n_sectors, reach
        Ring spacing, number of sectors, and profile length (mm, 1 mm samples).
    """
    n_cap = max(4, int(round(np.pi / 2 * cap_radius / step)))
    dpsi = 90.0 / n_cap
    psi = tuple(float(v) for v in (np.arange(n_cap) + 0.5) * dpsi)
    n_cyl = max(4, int(np.ceil(length / step)))
    s = tuple(float(v) for v in (np.arange(n_cyl) + 0.5) * step)
    theta = tuple(float(v) for v in (np.arange(n_sectors) + 0.5) * 360.0 / n_sectors)
    t = tuple(float(v) for v in np.arange(0.0, reach + 0.5, 1.0))
    return SamplingGrid(frame, psi, s, theta, t)


def window(centre: F64, half: float = 24.0, step: float = 2.0) -> F64:
    """Sample distances ``(rings, sectors, samples)`` of profiles restricted to `half` mm
    around `centre` ``(rings, sectors)``, `step` mm apart, from 0 on."""
    start = np.maximum(np.asarray(centre, np.float64) - half, 0.0)
    return np.asarray(start[..., None] + np.arange(0.0, 2 * half + step / 2, step))


def sample_profiles(values: npt.ArrayLike, affine: npt.ArrayLike, grid: SamplingGrid,
                    t_mm: F64 | None = None) -> F64:  # fmt: skip
    """Return the count profiles ``(rings, sectors, samples)`` of one ``(z, y, x)`` volume.

    `t_mm` gives the sample distances: None for the grid's own (the same on every ray),
    or a ``(rings, sectors, samples)`` array such as :func:`window` returns.
    """
    data = np.asarray(values, np.float64)
    spline = ndi.spline_filter(data, order=3, mode="nearest")
    origins, dirs = grid.rays()
    t = np.asarray(grid.t_mm) if t_mm is None else np.asarray(t_mm)
    pts = origins[..., None, :] + dirs[..., None, :] * t[..., None]
    idx = voxel_indices(affine, pts).reshape(-1, 3).T
    out = ndi.map_coordinates(spline, idx, order=3, mode="nearest", prefilter=False)
    return np.asarray(out.reshape(pts.shape[:-1]))


def smooth_map(values: F64, sigma: tuple[float, float] = (1.0, 1.0)) -> F64:
    """Gaussian smoothing of a ``(rings, sectors[, ...])`` map: nearest at the apex and
    base, wrapped around the sectors."""
    sig = (*sigma, *([0.0] * (values.ndim - 2)))
    mode = ("nearest", "wrap", *(["nearest"] * (values.ndim - 2)))
    return np.asarray(ndi.gaussian_filter(values, sig, mode=mode))
