"""LV surfaces in every gate: mid-myocardium, endocardium, epicardium and valve plane.

Per gate, on the study's :class:`~workbench.spect.sampling.SamplingGrid`:

1. **Mid-myocardium**: along each ray, the count maximum within 12 mm of where the
   summed volume has it, refined to a fraction of a millimetre (parabola), smoothed over
   neighbouring rays; then moved outwards by ``sigma^2 H`` (``H`` the mean curvature) to
   undo the inward pull that blurring has on a curved shell.
2. **Valve plane**: per sector, where the peak counts along the cylinder fall below half
   of that sector's mid-ventricular counts; a plane (tilt allowed) is fitted to the
   sector positions with outliers trimmed.
3. **Thickness**: the study's :class:`~workbench.spect.wallfit.WallModel` gives the ED
   thickness and the blur; each ray's thickness in each gate follows from its counts by
   partial volume (the recovered fraction of a blurred annulus, ``P = C_ray rec(T)``),
   with ``C_ray`` set so that the ray has the ED thickness at ED; every gate is then
   scaled to the same myocardial volume (mid-wall area times thickness), the
   constant-mass constraint.
4. **Endocardium and epicardium**: half the thickness inwards and outwards along the
   mid-wall normal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from workbench.spect.meridian import (
    area_weights,
    enclosed_volume,
    h_map,
    mean_curvature,
    normals,
)
from workbench.spect.sampling import SamplingGrid, smooth_map
from workbench.spect.wallfit import WallModel, recovery

__all__ = [
    "GateSurface", "find_peaks", "gate_surface", "smooth_area", "summed_peaks", "valve_plane",
]  # fmt: skip

F64 = npt.NDArray[np.float64]
SEARCH_MM = 12.0


@dataclass(frozen=True, eq=False)
class GateSurface:
    """The LV of one gate (or of the summed volume) on the sampling grid.

    All maps are ``(rings, sectors)``; positions are meridian coordinates (``rho`` from the
    axis, ``z`` along it towards the apex, mm) in the grid's frame.

    Attributes
    ----------
    mid_rho, mid_z, endo_rho, endo_z, epi_rho, epi_z
        The three surfaces.
    counts
        Counts at the mid-wall point of each ray.
    thickness
        Wall thickness along the normal (mm).
    z_valve
        Valve plane position per sector.
    h
        Normalised long-axis position of the mid-wall point (0 valve plane, 1 apex).
    area
        Mid-wall area (mm^2) each node stands for above the valve plane.
    volume_ml, myocardial_ml
        Cavity volume inside the endocardium and myocardial volume, above the valve plane.
    """

    mid_rho: F64
    mid_z: F64
    endo_rho: F64
    endo_z: F64
    epi_rho: F64
    epi_z: F64
    counts: F64
    thickness: F64
    z_valve: F64
    h: F64
    area: F64
    volume_ml: float
    myocardial_ml: float


def find_peaks(profiles: F64, t_mm: F64, around: F64 | None) -> tuple[F64, F64]:
    """Return ``(t, counts)`` of the profile maxima, refined by a parabola.

    Parameters
    ----------
    profiles
        ``(rings, sectors, samples)``.
    t_mm
        Sample distances, evenly spaced: ``(samples,)`` or the shape of `profiles`.
    around
        Search only within :data:`SEARCH_MM` of these positions; None: from 3 mm on.
    """
    t = np.broadcast_to(np.asarray(t_mm, np.float64), profiles.shape)
    allowed = t >= 3.0
    if around is not None:
        allowed = allowed & (np.abs(t - around[..., None]) <= SEARCH_MM)
    masked = np.where(allowed, profiles, -np.inf)
    k = np.clip(np.argmax(masked, axis=-1), 1, profiles.shape[-1] - 2)[..., None]
    y0 = np.take_along_axis(profiles, k - 1, -1)[..., 0]
    y1 = np.take_along_axis(profiles, k, -1)[..., 0]
    y2 = np.take_along_axis(profiles, k + 1, -1)[..., 0]
    denom = y0 - 2 * y1 + y2
    off = np.where(denom < 0, 0.5 * (y0 - y2) / np.where(denom < 0, denom, -1.0), 0.0)
    off = np.clip(off, -0.5, 0.5)
    step = np.take_along_axis(t, k + 1, -1)[..., 0] - np.take_along_axis(t, k, -1)[..., 0]
    return np.take_along_axis(t, k, -1)[..., 0] + off * step, y1 - 0.25 * (y0 - y2) * off


def _sample_at(profiles: F64, t_mm: F64, where: F64) -> F64:
    """Linear interpolation of each profile at its own distance `where` (even samples)."""
    t = np.broadcast_to(np.asarray(t_mm, np.float64), profiles.shape)
    pos = np.clip((where - t[..., 0]) / (t[..., 1] - t[..., 0]), 0, profiles.shape[-1] - 1.001)
    k = np.floor(pos).astype(int)
    w = pos - k
    lo = np.take_along_axis(profiles, k[..., None], -1)[..., 0]
    hi = np.take_along_axis(profiles, (k + 1)[..., None], -1)[..., 0]
    return np.asarray(lo * (1 - w) + hi * w)


def valve_plane(counts: F64, rho: F64, z: F64, grid: SamplingGrid, z_start: float) -> F64:
    """Per-sector valve-plane position ``z`` from mid-wall counts (see module docstring).

    `z_start` is an axial position surely above the valve plane (mid-ventricle); the search
    runs from there towards the base.
    """
    n_cap = grid.n_cap
    cyl = counts[n_cap:]
    zc = z[n_cap:]
    above = zc >= z_start
    ref = np.array([np.median(counts[: n_cap + int(np.sum(above[:, j])), j])
                    for j in range(counts.shape[1])])  # fmt: skip
    ref = np.maximum(ref, 0.5 * float(np.median(ref)))
    out = np.empty(counts.shape[1])
    for j in range(counts.shape[1]):
        start = int(np.sum(above[:, j]))
        level = cyl[:, j] / ref[j]
        below = np.nonzero(level[start:] < 0.5)[0]
        if below.size == 0:
            out[j] = zc[-1, j]
            continue
        i = start + int(below[0])
        if i == 0:
            out[j] = zc[0, j]
            continue
        w = (level[i - 1] - 0.5) / max(level[i - 1] - level[i], 1e-9)
        out[j] = zc[i - 1, j] + w * (zc[i, j] - zc[i - 1, j])
    return _fit_plane(out, np.radians(np.asarray(grid.theta_deg)), float(np.median(rho[n_cap:])))


def _fit_plane(zb: F64, theta: F64, radius: float) -> F64:
    """Fit ``z = a + b r cos(theta) + c r sin(theta)`` with two rounds of outlier trimming."""
    design = np.stack([np.ones_like(theta), radius * np.cos(theta), radius * np.sin(theta)], 1)
    keep = np.ones(len(zb), dtype=bool)
    coef = np.array([float(np.median(zb)), 0.0, 0.0])
    for _ in range(3):
        coef, *_ = np.linalg.lstsq(design[keep], zb[keep], rcond=None)
        resid = np.abs(zb - design @ coef)
        mad = float(np.median(resid[keep])) + 1e-6
        keep = resid <= max(3.0 * 1.4826 * mad, 2.0)
    return np.asarray(design @ coef)


def curvature_corrected(t: F64, grid: SamplingGrid, sigma: float, rounds: int = 3) -> F64:
    """Move mid-wall positions outwards by ``sigma^2 H / cos(alpha)`` (at most 6 mm).

    Blur flattens a pointed apex, so ``H`` measured on the blurred surface is too small;
    the correction is repeated with ``H`` of the corrected surface, `rounds` times in all.
    """
    radial, axial = grid.meridian_directions()
    out = t
    for _ in range(rounds):
        rho, z = grid.to_meridian(out)
        h_curv = np.clip(mean_curvature(rho, z), 0.0, 0.2)
        n_rho, n_z = normals(rho, z)
        cos_a = np.clip(n_rho * radial[:, None] + n_z * axial[:, None], 0.3, 1.0)
        out = t + np.clip(sigma**2 * h_curv / cos_a, 0.0, 6.0)
    return np.asarray(out)


def ray_thickness(counts: F64, counts_ed: F64, wall: WallModel, radius_ed: float,
                  radius: float) -> F64:  # fmt: skip
    """Partial-volume thickness of each ray from its counts (module docstring, 3).

    The recovered fraction of a wall of thickness ``T`` is that of a blurred annulus of
    the gate's mid-ventricular `radius` (:func:`~workbench.spect.wallfit.recovery`); each
    ray's concentration is set so that its ED counts give the ED thickness at
    `radius_ed`. Counts are taken above the mean of cavity and outside counts.
    """
    base = (wall.blood + wall.outside) / 2
    t_ed = wall.thickness_ed_mm
    rec_ed = float(recovery(np.array([t_ed]), wall.sigma_mm, radius_ed)[0])
    table = np.linspace(0.2 * t_ed, 4.0 * t_ed, 96)
    rec = np.maximum.accumulate(recovery(table, wall.sigma_mm, radius))
    conc = np.maximum(counts_ed - base, 1e-9) / max(rec_ed, 1e-9)
    return np.asarray(np.interp((counts - base) / conc, rec, table))


def gate_surface(t_mid: F64, counts: F64, thickness: F64, grid: SamplingGrid, z_valve: F64,
                 myocardial_ml: float | None,
                 z_apex: float | None = None) -> GateSurface:  # fmt: skip
    """Assemble one gate's surfaces from mid-wall distances along the rays and thicknesses.

    Parameters
    ----------
    t_mid
        Mid-wall distance along each ray (curvature-corrected).
    counts
        Mid-wall counts per ray.
    thickness
        Raw thickness per ray; scaled so that the myocardial volume is `myocardial_ml`
        (None: left as it is).
    z_valve
        Valve plane per sector.
    z_apex
        Apex position for ``h`` (None: that of this surface).
    """
    rho, z = grid.to_meridian(t_mid)
    n_rho, n_z = normals(rho, z)
    area = smooth_area(t_mid, grid, z_valve)
    if myocardial_ml is not None:
        current = float(np.sum(area * thickness)) / 1000.0
        thickness = thickness * (myocardial_ml / max(current, 1e-9))
    half = thickness / 2
    endo_rho, endo_z = np.maximum(rho - half * n_rho, 0.0), z - half * n_z
    epi_rho, epi_z = rho + half * n_rho, z + half * n_z
    h = h_map(z, z_valve, z_apex)
    volume = enclosed_volume(endo_rho, endo_z, z_valve)
    myo = enclosed_volume(epi_rho, epi_z, z_valve) - volume
    return GateSurface(rho, z, endo_rho, endo_z, epi_rho, epi_z, counts, thickness, z_valve,
                       h, area, volume, myo)  # fmt: skip


def smooth_area(t_mid: F64, grid: SamplingGrid, z_valve: F64) -> F64:
    """Area weights (:func:`~workbench.spect.meridian.area_weights`) of the surface after
    smoothing over 3 rings and sectors: noise wrinkles a surface and inflates its area."""
    rho, z = grid.to_meridian(smooth_map(t_mid, (3.0, 3.0)))
    return area_weights(rho, z, z_valve, rho.shape[1])


def smoothed_peaks(profiles: F64, t_mm: F64, around: F64 | None,
                   sigma: tuple[float, float] = (1.0, 1.0)) -> tuple[F64, F64]:  # fmt: skip
    """Peaks (:func:`find_peaks`) smoothed over neighbouring rays, and the counts there."""
    t_peak, _ = find_peaks(profiles, t_mm, around)
    t_smooth = smooth_map(t_peak, sigma)
    return t_smooth, _sample_at(profiles, t_mm, t_smooth)


def summed_peaks(profiles: F64, t_mm: F64) -> tuple[F64, F64]:
    """Mid-wall peaks of the summed volume, kept on the LV.

    Each ray's maximum is searched within :data:`SEARCH_MM` of the median position of its
    ring (rays of one ring see the LV wall at similar distances; a hot liver or bowel
    loop seen by a few of them is left out), then smoothed (1.5 rings and sectors).
    """
    t_raw, _ = find_peaks(profiles, t_mm, None)
    ring = np.broadcast_to(np.median(t_raw, axis=1, keepdims=True), t_raw.shape)
    return smoothed_peaks(profiles, t_mm, np.ascontiguousarray(ring), (1.5, 1.5))
