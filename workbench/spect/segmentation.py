"""Segmenting the LV of a gated (or ungated) study: the whole pipeline of surfaces.

:func:`segment_lv` runs, on one ``([gate,] z, y, x)`` volume:

1. long-axis detection (:mod:`workbench.spect.reorient`), unless given, refined once on
   the smooth mid-wall surface of the summed volume;
2. the sampling grid, placed on the summed volume (:mod:`workbench.spect.placement`);
3. mid-wall surfaces and valve planes of every gate (searched near the summed wall);
4. the study's wall model, blur and ED thickness (:mod:`workbench.spect.wallfit`), from
   the mean mid-ventricular profiles of all gates and their area ratios;
5. thickness of every ray in every gate from its counts, endocardial and epicardial
   surfaces at constant myocardial volume (:mod:`workbench.spect.surfaces`).

An ungated volume gets step 1-2, its summed surface and a wall model with the blur of
:data:`DEFAULT_FWHM_MM` (or the one given).

The reader may move the valve plane (``valve_shift_mm``, the manual override of the
basal limit): every gate's detected plane, and the summed volume's, moves by that many
mm along the long axis (positive: towards the apex) before step 5, so that volumes,
myocardial volume, ``h`` and the polar maps follow. The wall model (step 4) stays fitted
on the detected planes: blur and thickness are properties of the image, not of where
the reader closes the cavity.

The reader may also edit the contours (``wall_offsets_mm``, one offset per ray of the
grid, from :func:`workbench.spect.contour_edit.edit_offsets`): each ray's mid-wall
position moves by its offset (after the curvature correction) in every gate and in the
summed volume before step 5, so the endo- and epicardium move with it; the counts, hence
thickness and perfusion, stay those measured. Like the valve plane, the wall model stays
fitted on the detected walls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import xarray as xr

from workbench.spect.lvframe import angle_between
from workbench.spect.meridian import (
    apex_z,
    area_weights,
    enclosed_volume,
    h_map,
)
from workbench.spect.placement import study_grid, valve_positions
from workbench.spect.reorient import LongAxis, estimate_long_axis, refine_long_axis
from workbench.spect.sampling import (
    SamplingGrid,
    sample_profiles,
    window,
)
from workbench.spect.surfaces import (
    GateSurface,
    curvature_corrected,
    gate_surface,
    smooth_area,
    smoothed_peaks,
    summed_peaks,
)
from workbench.spect.volume import affine_of, spacing_of, summed
from workbench.spect.wallfit import (
    FWHM_PER_SIGMA,
    WallModel,
    aligned_mean_profile,
    fit_wall_model,
)
from workbench.spect.wallinputs import band_area, fit_mask, gate_masks, gate_thickness

__all__ = [
    "VALVE_SHIFT_LIMIT_MM", "WALL_OFFSET_LIMIT_MM", "LvMeasurement", "LvSegmentation",
    "finish_lv", "measure_lv", "segment_lv",
]  # fmt: skip

F64 = npt.NDArray[np.float64]
DEFAULT_FWHM_MM = 12.0
"""Resolution assumed for an ungated study when none is given."""
VALVE_SHIFT_LIMIT_MM = 20.0
"""Largest valve-plane override either way (the grid reaches 25 mm past the plane)."""
WALL_OFFSET_LIMIT_MM = 15.0
"""Largest contour edit of one ray either way (about a wall thickness and a half)."""


@dataclass(frozen=True, eq=False)
class LvSegmentation:
    """Surfaces of every gate and of the summed volume.

    Attributes
    ----------
    long_axis
        The long axis used (detected or given).
    grid
        The sampling grid shared by all gates.
    gates
        One surface per gate (empty for an ungated volume).
    summed
        The surface of the summed volume (perfusion, TID).
    wall
        Blur and ED wall thickness of the study.
    myocardial_ml
        The constant myocardial volume every gate is held to.
    ed_gate, es_gate
        Gates of largest and smallest cavity volume (0 for an ungated volume).
    valve_shift_mm
        The reader's valve-plane override (mm towards the apex; 0: as detected).
    wall_offsets_mm
        The reader's contour edits: mm along each ray of `grid` ``(rings, sectors)``,
        positive outwards; None: the walls as detected.
    """

    long_axis: LongAxis
    grid: SamplingGrid
    gates: tuple[GateSurface, ...]
    summed: GateSurface
    wall: WallModel
    myocardial_ml: float
    ed_gate: int
    es_gate: int
    valve_shift_mm: float = 0.0
    wall_offsets_mm: F64 | None = None

    @property
    def edited(self) -> bool:
        """Whether the reader has edited the contours."""
        return self.wall_offsets_mm is not None and bool(np.any(self.wall_offsets_mm != 0))

    @property
    def volumes_ml(self) -> tuple[float, ...]:
        """Cavity volume of each gate."""
        return tuple(g.volume_ml for g in self.gates)


@dataclass(frozen=True, eq=False)
class LvMeasurement:
    """What :func:`measure_lv` found before the wall model: grid, peaks, valve planes.

    Attributes
    ----------
    long_axis, grid
        As in :class:`LvSegmentation`.
    summed_t, summed_counts, summed_valve
        Mid-wall distance and counts per ray and valve plane per sector, summed volume.
    summed_profiles
        Profiles of the summed volume on the grid's own distances.
    t, profiles
        Gate profiles, on windows around the summed wall (empty when ungated).
    peaks
        ``(mid-wall distance, counts)`` per gate.
    valves, h
        Valve plane per sector and long-axis position per ray, per gate.
    ed, es
        Gates of largest and smallest mid-wall volume.
    default_sigma
        Blur used when the wall fit cannot be made.
    """

    long_axis: LongAxis
    grid: SamplingGrid
    summed_t: F64
    summed_counts: F64
    summed_valve: F64
    summed_profiles: F64
    t: F64
    profiles: tuple[F64, ...]
    peaks: tuple[tuple[F64, F64], ...]
    valves: tuple[F64, ...]
    h: tuple[F64, ...]
    ed: int
    es: int
    default_sigma: float

    @property
    def gated(self) -> bool:
        """Whether there are at least two gates."""
        return len(self.profiles) > 1


def measure_lv(volume: xr.DataArray, long_axis: LongAxis | None = None) -> LvMeasurement:
    """Steps 1-3 of the module docstring: axis, grid, mid-wall peaks and valve planes."""
    affine = affine_of(volume)
    total = np.asarray(summed(volume).values, np.float64)
    axis = long_axis or estimate_long_axis(volume)
    for attempt in range(2):  # a detected axis is refined once on the summed wall
        grid = study_grid(total, affine, axis)
        total_profiles = sample_profiles(total, affine, grid)
        t_sum, p_sum = summed_peaks(total_profiles, np.asarray(grid.t_mm))
        z_valve_sum = valve_positions(p_sum, *grid.to_meridian(t_sum), grid)
        if long_axis is not None or attempt:
            break
        rho, z = grid.to_meridian(t_sum)
        h_sum = h_map(z, z_valve_sum)
        refined = refine_long_axis(grid.to_patient(rho, z)[(h_sum > 0.1) & (h_sum < 0.9)], axis)
        if angle_between(refined.axis, axis.axis) <= 0.2:
            break
        axis = refined
    n_gates = volume.sizes["gate"] if "gate" in volume.dims else 0
    t = window(t_sum)  # gates are searched near the summed wall only
    profiles = tuple(sample_profiles(np.asarray(volume.isel(gate=g).values, np.float64), affine,
                                     grid, t) for g in range(n_gates))  # fmt: skip
    peaks = tuple(smoothed_peaks(p, t, t_sum, (2.0, 2.0)) for p in profiles)
    valves = tuple(valve_positions(c, *grid.to_meridian(tm), grid) for tm, c in peaks)
    mids = [grid.to_meridian(tm) for tm, _ in peaks]
    mid_volumes = [enclosed_volume(r, z, zv) for (r, z), zv in zip(mids, valves, strict=True)]
    ed, es = (int(np.argmax(mid_volumes)), int(np.argmin(mid_volumes))) if mids else (0, 0)
    z_apex = float(np.median([apex_z(z) for _, z in mids])) if mids else 0.0  # hardly moves
    h = tuple(h_map(z, zv, z_apex) for (_, z), zv in zip(mids, valves, strict=True))
    return LvMeasurement(axis, grid, t_sum, p_sum, z_valve_sum, total_profiles, t, profiles,
                         peaks, valves, h, ed, es, _default_sigma(volume, None))  # fmt: skip


def finish_lv(m: LvMeasurement, *, resolution_fwhm_mm: float | None = None,
              valve_shift_mm: float = 0.0, wall_offsets_mm: npt.ArrayLike | None = None,
              ed_thickness_mm: float | None = None) -> LvSegmentation:  # fmt: skip
    """Steps 4-5 of the module docstring: wall model, thickness, surfaces.

    Parameters
    ----------
    m
        The measurement (:func:`measure_lv`).
    resolution_fwhm_mm
        Known effective resolution (FWHM, mm); None: fitted from the gates (ungated
        volumes assume :data:`DEFAULT_FWHM_MM`).
    valve_shift_mm
        Move every detected valve plane this far along the long axis (mm, positive
        towards the apex; at most :data:`VALVE_SHIFT_LIMIT_MM` either way).
    wall_offsets_mm
        Contour edits: move each ray's mid-wall this far outwards (mm, ``(rings,
        sectors)`` of the grid, at most :data:`WALL_OFFSET_LIMIT_MM` either way); None:
        as detected.
    ed_thickness_mm
        Known ED wall thickness (the stress and rest sets' pooled value,
        :func:`~workbench.spect.analysis.analyze_study`); None: fitted.

    Raises
    ------
    ValueError
        `valve_shift_mm` or an offset beyond its limit or not finite; offsets of
        another grid's shape.
    """
    shift = _valve_shift(valve_shift_mm)
    offsets = _wall_offsets(wall_offsets_mm, m.grid)
    grid, n_sectors = m.grid, len(m.grid.theta_deg)
    known = None if resolution_fwhm_mm is None else resolution_fwhm_mm / FWHM_PER_SIGMA
    if not m.gated:
        mask = fit_mask(grid, m.summed_t, m.summed_valve, m.summed_counts)
        mean = aligned_mean_profile(m.summed_profiles, np.asarray(grid.t_mm), m.summed_t, mask)
        radius = float(np.mean(m.summed_t[mask]))
        wall = fit_wall_model([mean], [1.0], [radius], sigma_mm=known or m.default_sigma,
                              thickness_mm=ed_thickness_mm)  # fmt: skip
        t_c = _moved(curvature_corrected(m.summed_t, grid, wall.sigma_mm), offsets)
        area = area_weights(*grid.to_meridian(t_c), m.summed_valve + shift, n_sectors)
        myocardial = float(np.sum(area)) * wall.thickness_ed_mm / 1000.0
        whole = gate_surface(t_c, m.summed_counts, np.full(t_c.shape, wall.thickness_ed_mm),
                             grid, m.summed_valve + shift, myocardial)  # fmt: skip
        return LvSegmentation(m.long_axis, grid, (), whole, wall, myocardial, 0, 0, shift,
                              _kept(offsets))
    mids = [grid.to_meridian(tm) for tm, _ in m.peaks]
    masks = gate_masks(grid, mids, list(m.h), [c for _, c in m.peaks], m.ed)
    radii = [float(np.mean(tm[k])) for (tm, _), k in zip(m.peaks, masks, strict=True)]
    means = [aligned_mean_profile(p, m.t, tm, k)
             for p, (tm, _), k in zip(m.profiles, m.peaks, masks, strict=True)]  # fmt: skip
    sigma = known or m.default_sigma
    for _ in range(3):  # the area ratios depend on the curvature correction, hence on sigma
        surf = [grid.to_meridian(curvature_corrected(tm, grid, sigma)) for tm, _ in m.peaks]
        top = float(np.median([apex_z(z) for _, z in surf]))
        band = [band_area(*sf, zv, n_sectors, top) for sf, zv in zip(surf, m.valves, strict=True)]
        wall = fit_wall_model(means, [band[m.ed] / b for b in band], radii, sigma_mm=known,
                              thickness_mm=ed_thickness_mm,
                              default_sigma_mm=m.default_sigma)  # fmt: skip
        if abs(wall.sigma_mm - sigma) < 0.02 or not wall.fitted:
            break
        sigma = wall.sigma_mm
    thickness = gate_thickness([c for _, c in m.peaks], list(m.h), m.ed, wall, radii)
    corrected = [_moved(curvature_corrected(tm, grid, wall.sigma_mm), offsets) for tm, _ in m.peaks]
    valves = [zv + shift for zv in m.valves]  # the reader's plane (the detected one if 0)
    masses = [float(np.sum(smooth_area(tc, grid, zv) * th)) / 1000.0
              for tc, zv, th in zip(corrected, valves, thickness, strict=True)]
    myocardial = float(np.mean(masses))
    apex_c = float(np.median([apex_z(grid.to_meridian(tc)[1]) for tc in corrected]))
    gates = tuple(gate_surface(tc, c, th, grid, zv, myocardial, apex_c) for tc, (_, c), th, zv
                  in zip(corrected, m.peaks, thickness, valves, strict=True))  # fmt: skip
    whole = gate_surface(_moved(curvature_corrected(m.summed_t, grid, wall.sigma_mm), offsets),
                         m.summed_counts,
                         np.full(m.summed_t.shape, wall.thickness_ed_mm), grid,
                         m.summed_valve + shift, myocardial)  # fmt: skip
    return LvSegmentation(m.long_axis, grid, gates, whole, wall, myocardial, m.ed, m.es, shift,
                          _kept(offsets))


def segment_lv(volume: xr.DataArray, long_axis: LongAxis | None = None, *,
               resolution_fwhm_mm: float | None = None, valve_shift_mm: float = 0.0,
               wall_offsets_mm: npt.ArrayLike | None = None) -> LvSegmentation:  # fmt: skip
    """Find the LV surfaces of every gate: :func:`measure_lv` then :func:`finish_lv`.

    Parameters
    ----------
    volume
        ``(gate, z, y, x)`` gated or ``(z, y, x)`` ungated counts with an affine.
    long_axis
        Manual long axis; None: :func:`~workbench.spect.reorient.estimate_long_axis`.
    resolution_fwhm_mm
        Known effective resolution of the volume (FWHM, mm); None: fitted from the gates
        (ungated volumes assume 12 mm).
    valve_shift_mm
        The reader's valve-plane override (:func:`finish_lv`); 0: as detected.
    wall_offsets_mm
        The reader's contour edits (:func:`finish_lv`); they belong to the grid of this
        long axis, so they need the same `long_axis` they were made on.

    Returns
    -------
    LvSegmentation
    """
    return finish_lv(measure_lv(volume, long_axis), resolution_fwhm_mm=resolution_fwhm_mm,
                     valve_shift_mm=valve_shift_mm, wall_offsets_mm=wall_offsets_mm)  # fmt: skip


def _valve_shift(mm: float) -> float:
    value = float(mm)
    if not np.isfinite(value) or abs(value) > VALVE_SHIFT_LIMIT_MM:
        raise ValueError(f"valve_shift_mm must be within +-{VALVE_SHIFT_LIMIT_MM:g} mm of the "
                         f"detected valve plane, got {mm!r}")
    return value


def _wall_offsets(values: npt.ArrayLike | None, grid: SamplingGrid) -> F64:
    """Checked contour edits as a ``(rings, sectors)`` array (zeros for None)."""
    if values is None:
        return np.zeros(grid.shape)
    out = np.asarray(values, np.float64)
    if out.shape != grid.shape:
        raise ValueError(f"wall_offsets_mm has shape {out.shape}, the sampling grid "
                         f"{grid.shape}: contour edits belong to the long axis they were "
                         "made on")
    worst = float(np.max(np.abs(out))) if out.size else 0.0
    if not np.all(np.isfinite(out)) or worst > WALL_OFFSET_LIMIT_MM + 1e-9:
        raise ValueError(f"wall_offsets_mm must be finite and within "
                         f"+-{WALL_OFFSET_LIMIT_MM:g} mm, got up to {worst:.1f} mm")
    return out


def _moved(t: F64, offsets: F64) -> F64:
    """Mid-wall distances (after the curvature correction, so that an edit is not
    amplified by the curvature it makes) moved by the reader's offsets, never closer
    than 1 mm to the ray's origin."""
    return np.maximum(t + offsets, 1.0)


def _kept(offsets: F64) -> F64 | None:
    """What a segmentation records of its offsets: None when nothing was edited."""
    return offsets.copy() if np.any(offsets != 0) else None


def _default_sigma(volume: xr.DataArray, known: float | None) -> float:
    """Known sigma, else that of :data:`DEFAULT_FWHM_MM` combined with the voxel size."""
    if known is not None:
        return known
    voxel = float(np.mean(spacing_of(volume)))
    return float(np.sqrt((DEFAULT_FWHM_MM / FWHM_PER_SIGMA) ** 2 + voxel**2 / 12))
