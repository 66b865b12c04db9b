"""Inputs of the wall fit and of the surfaces: which rays, which band, what thickness.

Helpers of :mod:`workbench.spect.segmentation`, all on the sampling grid's
``(rings, sectors)`` maps and the long-axis positions ``h`` of
:func:`workbench.spect.meridian.h_map`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from workbench.spect.meridian import at_h, h_map, normals
from workbench.spect.sampling import SamplingGrid, smooth_map
from workbench.spect.surfaces import ray_thickness
from workbench.spect.wallfit import WallModel

__all__ = ["band_area", "fit_mask", "gate_masks", "gate_thickness"]

F64 = npt.NDArray[np.float64]


def gate_thickness(counts: list[F64], h: list[F64], ed: int, wall: WallModel,
               radii: list[float]) -> list[F64]:  # fmt: skip
    """Thickness of every ray in every gate from its counts, compared at the same long-axis
    position ``h`` as the ED ray (the base descends through the fixed rays), limited to
    0.4-3 times the ED thickness; below ``h = 0.1`` the value at 0.1 holds."""
    smooth = [smooth_map(c, (1.5, 1.5)) for c in counts]
    on_ed = [at_h(c, hg, h[ed]) for c, hg in zip(smooth, h, strict=True)]
    t_ed = wall.thickness_ed_mm
    out = []
    basal = h[ed] < 0.1  # the edge of the wall: counts fall for lack of wall, not thinning
    for c, hg, radius in zip(on_ed, h, radii, strict=True):
        th = np.clip(ray_thickness(c, on_ed[ed], wall, radii[ed], radius), 0.4 * t_ed, 3 * t_ed)
        edge = at_h(th, h[ed], np.full(th.shape, 0.1))
        out.append(at_h(np.where(basal, edge, th), h[ed], hg))
    return out


def band_area(rho: F64, z: F64, z_valve: F64, n_sectors: int, z_apex: float) -> float:
    """Mid-wall area between 20 % and 80 % of the way from valve plane to apex: the band
    whose wall the profile fit looks at (its thickening is its own area change).

    The area is projected on the long axis (``rho dtheta dz``): the band is nearly
    parallel to the axis, and the projection does not grow with the noise that wrinkles
    the surface.
    """
    h = h_map(z, z_valve, z_apex)
    band = (h >= 0.2) & (h <= 0.8)
    dz = np.abs(np.gradient(z, axis=0))
    return float(np.sum(np.maximum(rho, 0.0) * dz * band) * 2 * np.pi / n_sectors)


def gate_masks(grid: SamplingGrid, mids: list[tuple[F64, F64]], h: list[F64],
                counts: list[F64], ed: int) -> list[npt.NDArray[np.bool_]]:  # fmt: skip
    """Rays of each gate for the wall fit: cylinder rays nearly normal to the wall, between
    25 % and 75 % of the way from valve plane to apex, in myocardium whose ED counts reach
    80 % of the band's 90th percentile (well perfused). Gates other than ED take the same
    myocardium by its long-axis position ``h`` (the base descends through fixed rays)."""
    cyl = np.zeros(h[ed].shape, dtype=bool)
    cyl[grid.n_cap:] = True
    band_ed = cyl & (h[ed] > 0.25) & (h[ed] < 0.75)
    ed_counts = smooth_map(counts[ed], (1.5, 1.5))
    good_ed = ed_counts >= 0.8 * float(np.percentile(ed_counts[band_ed], 90))
    out = []
    for (rho, z), hg in zip(mids, h, strict=True):
        n_rho, _ = normals(rho, z)
        good = at_h(good_ed.astype(np.float64), h[ed], hg) > 0.5
        band = cyl & (hg > 0.25) & (hg < 0.75)
        mask = band & (n_rho > 0.9) & good
        out.append(np.asarray(mask if mask.sum() >= 10 else (band if band.sum() else cyl)))
    return out


def fit_mask(grid: SamplingGrid, t_mid: F64, z_valve: F64,
              counts: F64) -> npt.NDArray[np.bool_]:  # fmt: skip
    """Mid-ventricular cylinder rays, nearly normal to the wall, in well-perfused myocardium."""
    rho, z = grid.to_meridian(t_mid)
    h = h_map(z, z_valve)
    n_rho, _ = normals(rho, z)
    cyl = np.zeros(rho.shape, dtype=bool)
    cyl[grid.n_cap:] = True
    band = cyl & (h > 0.25) & (h < 0.75)
    if band.sum() < 10:
        return cyl
    good = counts >= 0.8 * float(np.percentile(counts[band], 90))
    mask = band & (n_rho > 0.9) & good
    return np.asarray(mask if mask.sum() >= 10 else band)
