"""Gated SPECT analysis end to end: one call per gated set, one per stress/rest study.

:func:`analyze_gated` segments one ``([gate,] z, y, x)`` volume and returns its function
(volume curve, EDV, ESV, SV, EF, filling), regional motion and thickening, phase
analysis and polar maps. :func:`analyze_study` does that for a stress and a rest set and
adds the perfusion scores against normal limits, SDS, extent and TID. Results are frozen
dataclasses; :mod:`workbench.spect.report` turns them into JSON and tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import xarray as xr

from workbench.spect.function import VolumeCurve, gated_function
from workbench.spect.meridian import at_h
from workbench.spect.normals import default_normal_limits
from workbench.spect.pairing import segment_pair
from workbench.spect.phase import PhaseResult, first_harmonic, phase_analysis
from workbench.spect.polar import PolarMap, perfusion_map, polar_map
from workbench.spect.reorient import LongAxis
from workbench.spect.sampling import smooth_map
from workbench.spect.scores import NormalLimits, PerfusionScores, ischemic_extent, score_map
from workbench.spect.segmentation import LvSegmentation, segment_lv

__all__ = [
    "LvAnalysis", "StudyAnalysis", "analysis_of", "analyze_gated", "analyze_study", "tid_ratio",
]  # fmt: skip

MYOCARDIAL_DENSITY_G_ML = 1.05


@dataclass(frozen=True, eq=False)
class LvAnalysis:
    """Everything measured on one gated (or ungated) set.

    Attributes
    ----------
    curve
        Volumes and global function; None for an ungated volume.
    motion_mm, thickening_pct
        Per AHA segment 1-17 (ED to ES); None when ungated.
    phase
        Phase analysis; None when ungated.
    perfusion
        Perfusion polar map of the summed volume.
    motion_map, thickening_map, phase_map
        Polar maps (None when ungated).
    ungated_volume_ml
        Cavity volume of the summed volume (for TID).
    myocardial_ml, mass_g
        Myocardial volume and mass (1.05 g/mL).
    resolution_fwhm_mm, wall_ed_mm
        The study's fitted (or given) resolution and ED wall thickness.
    segmentation
        Surfaces, grid and long axis, for drawing contours and adjusting them.
    """

    curve: VolumeCurve | None
    motion_mm: tuple[float, ...] | None
    thickening_pct: tuple[float, ...] | None
    phase: PhaseResult | None
    perfusion: PolarMap
    motion_map: PolarMap | None
    thickening_map: PolarMap | None
    phase_map: PolarMap | None
    ungated_volume_ml: float
    myocardial_ml: float
    mass_g: float
    resolution_fwhm_mm: float
    wall_ed_mm: float
    segmentation: LvSegmentation

    @property
    def long_axis(self) -> LongAxis:
        """The long axis the analysis used."""
        return self.segmentation.long_axis


@dataclass(frozen=True, eq=False)
class StudyAnalysis:
    """A stress/rest study: both sets and the perfusion comparison.

    Attributes
    ----------
    stress, rest
        The analysed sets (either may be None).
    stress_scores, rest_scores
        Scores against the normal limits.
    sss, srs, sds
        Summed stress, rest and difference scores (SDS needs both).
    difference_scores
        Per segment ``max(stress - rest, 0)``.
    ischemic_extent_pct
        Share of the LV abnormal at stress only.
    tid
        Transient ischaemic dilation ratio (needs both).
    normals_source
        Which normal limits were used.
    """

    stress: LvAnalysis | None
    rest: LvAnalysis | None
    stress_scores: PerfusionScores | None
    rest_scores: PerfusionScores | None
    sss: int | None
    srs: int | None
    sds: int | None
    difference_scores: tuple[int, ...] | None
    ischemic_extent_pct: float | None
    tid: float | None
    normals_source: str


def _phase(seg: LvSegmentation) -> tuple[PhaseResult, PolarMap]:
    """Phases of the wall-thickness curves at fixed ``h`` (smoothed over 3 rings and
    sectors), weighted by ED area times first-harmonic amplitude."""
    ed = seg.gates[seg.ed_gate]
    curves = np.stack([at_h(smooth_map(g.thickness, (3.0, 3.0)), g.h, ed.h) for g in seg.gates],
                      axis=-1)  # fmt: skip
    phases, amplitude = first_harmonic(curves)
    result = phase_analysis(phases, ed.area * (ed.h >= 0) * amplitude)
    theta = np.asarray(seg.grid.theta_deg)
    # interpolate phases as unit vectors so that 359 and 1 degrees average to 0
    rad = np.radians(phases)
    cos_map = polar_map(np.cos(rad), ed, theta, "cos", "1")
    sin_map = polar_map(np.sin(rad), ed, theta, "sin", "1")
    values = np.degrees(np.arctan2(sin_map.values, cos_map.values)) % 360.0
    return result, PolarMap(values, "phase", "degrees")


def analyze_gated(volume: xr.DataArray, *, long_axis: LongAxis | None = None,
                  resolution_fwhm_mm: float | None = None,
                  rr_interval_ms: float | None = None, valve_shift_mm: float = 0.0,
                  wall_offsets_mm: npt.ArrayLike | None = None) -> LvAnalysis:  # fmt: skip
    """Analyse one gated ``(gate, z, y, x)`` (or ungated ``(z, y, x)``) SPECT volume.

    Parameters
    ----------
    volume
        Counts with ``attrs["affine"]`` (:mod:`workbench.spect.volume`); a gated volume
        needs at least 4 gates for function and phase.
    long_axis
        Manual long axis (override); None: detected.
    resolution_fwhm_mm
        Known effective resolution; None: fitted from the gates.
    rr_interval_ms
        R-R interval for rates and times; None: ``attrs["rr_interval_ms"]`` if present.
    valve_shift_mm
        Manual valve plane: the detected one moved this far towards the apex (mm,
        negative towards the atria; :func:`~workbench.spect.segmentation.finish_lv`).
    wall_offsets_mm
        The reader's contour edits (:func:`workbench.spect.contour_edit.edit_offsets`),
        made on the grid of `long_axis`; None: the walls as detected.

    Returns
    -------
    LvAnalysis
    """
    rr = rr_interval_ms if rr_interval_ms is not None else _rr(volume)
    seg = segment_lv(volume, long_axis, resolution_fwhm_mm=resolution_fwhm_mm,
                     valve_shift_mm=valve_shift_mm, wall_offsets_mm=wall_offsets_mm)  # fmt: skip
    return analysis_of(seg, rr)


def _rr(volume: xr.DataArray) -> float | None:
    """The R-R interval a volume carries (``attrs["rr_interval_ms"]``), if any."""
    rr = volume.attrs.get("rr_interval_ms")
    return None if rr is None else float(rr)


def analysis_of(seg: LvSegmentation, rr_interval_ms: float | None = None) -> LvAnalysis:
    """The measurements of an :class:`LvAnalysis` from a segmentation (e.g. one whose long
    axis or resolution the reader changed)."""
    theta = np.asarray(seg.grid.theta_deg)
    result = LvAnalysis(
        curve=None, motion_mm=None, thickening_pct=None, phase=None,
        perfusion=perfusion_map(seg.summed, theta), motion_map=None, thickening_map=None,
        phase_map=None, ungated_volume_ml=seg.summed.volume_ml,
        myocardial_ml=seg.myocardial_ml, mass_g=seg.myocardial_ml * MYOCARDIAL_DENSITY_G_ML,
        resolution_fwhm_mm=seg.wall.fwhm_mm, wall_ed_mm=seg.wall.thickness_ed_mm,
        segmentation=seg,
    )  # fmt: skip
    if len(seg.gates) < 4:
        return result
    curve, motion, thickening, motion_rays, thick_rays = gated_function(seg, rr_interval_ms)
    ed = seg.gates[curve.ed_gate]
    phase, phase_map = _phase(seg)
    return replace(
        result, curve=curve, motion_mm=motion, thickening_pct=thickening, phase=phase,
        motion_map=polar_map(motion_rays, ed, theta, "wall motion", "mm"),
        thickening_map=polar_map(thick_rays, ed, theta, "wall thickening", "%"),
        phase_map=phase_map,
    )  # fmt: skip


def analyze_study(stress: xr.DataArray | None = None, rest: xr.DataArray | None = None, *,
                  normals: NormalLimits | None = None, stress_axis: LongAxis | None = None,
                  rest_axis: LongAxis | None = None, resolution_fwhm_mm: float | None = None,
                  progress: Callable[[str, float], None] | None = None,
                  stress_valve_shift_mm: float = 0.0, rest_valve_shift_mm: float = 0.0,
                  stress_wall_offsets_mm: npt.ArrayLike | None = None,
                  rest_wall_offsets_mm: npt.ArrayLike | None = None,
                  ) -> StudyAnalysis:  # fmt: skip
    """Analyse a stress/rest myocardial perfusion study.

    Parameters
    ----------
    stress, rest
        Gated (or ungated) volumes; at least one.
    normals
        Normal limits; None: :func:`~workbench.spect.normals.default_normal_limits`.
    stress_axis, rest_axis
        Manual long axes.
    resolution_fwhm_mm
        Known resolution of both sets; None: fitted (pooled over stress and rest when
        both are given, :mod:`workbench.spect.pairing`, which also pools the ED wall
        thickness).
    progress
        Called with what is being done and the fraction done (0 to 1) before each step
        and once at the end (``"done", 1.0``), e.g. to drive a progress bar.
    stress_valve_shift_mm, rest_valve_shift_mm
        Manual valve planes (see :func:`analyze_gated`); 0: as detected.
    stress_wall_offsets_mm, rest_wall_offsets_mm
        Contour edits (see :func:`analyze_gated`; they need the axis they were made on).

    Returns
    -------
    StudyAnalysis
    """
    if stress is None and rest is None:
        raise ValueError("analyze_study needs a stress or a rest volume")
    report = progress or (lambda _what, _done: None)
    limits = normals or default_normal_limits()
    if stress is not None and rest is not None:  # one wall model for both (pairing.py)
        def steps(what: str, done: float) -> None:
            report(what, 0.95 * done)

        seg_s, seg_r = segment_pair(
            stress, rest, stress_axis=stress_axis, rest_axis=rest_axis,
            resolution_fwhm_mm=resolution_fwhm_mm, stress_valve_shift_mm=stress_valve_shift_mm,
            rest_valve_shift_mm=rest_valve_shift_mm, stress_wall_offsets_mm=stress_wall_offsets_mm,
            rest_wall_offsets_mm=rest_wall_offsets_mm, progress=steps)  # fmt: skip
        s, r = analysis_of(seg_s, _rr(stress)), analysis_of(seg_r, _rr(rest))
    elif stress is not None:
        report("analysing the stress set", 0.0)
        s, r = analyze_gated(stress, long_axis=stress_axis,
                             resolution_fwhm_mm=resolution_fwhm_mm,
                             valve_shift_mm=stress_valve_shift_mm,
                             wall_offsets_mm=stress_wall_offsets_mm), None  # fmt: skip
    else:
        assert rest is not None
        report("analysing the rest set", 0.0)
        s, r = None, analyze_gated(rest, long_axis=rest_axis,
                                   resolution_fwhm_mm=resolution_fwhm_mm,
                                   valve_shift_mm=rest_valve_shift_mm,
                                   wall_offsets_mm=rest_wall_offsets_mm)  # fmt: skip
    report("scoring perfusion", 0.95)
    s_scores = None if s is None else score_map(s.perfusion, limits, "stress")
    r_scores = None if r is None else score_map(r.perfusion, limits, "rest")
    result = StudyAnalysis(
        stress=s, rest=r, stress_scores=s_scores, rest_scores=r_scores,
        sss=None if s_scores is None else s_scores.summed_score,
        srs=None if r_scores is None else r_scores.summed_score, sds=None,
        difference_scores=None, ischemic_extent_pct=None, tid=None,
        normals_source=limits.source,
    )  # fmt: skip
    if s is None or r is None or s_scores is None or r_scores is None:
        report("done", 1.0)
        return result
    result = replace(
        result, sds=s_scores.summed_score - r_scores.summed_score,
        difference_scores=tuple(max(a - b, 0) for a, b in zip(s_scores.scores,
                                                               r_scores.scores, strict=True)),
        ischemic_extent_pct=ischemic_extent(s_scores, r_scores, s.perfusion), tid=tid_ratio(s, r),
    )  # fmt: skip
    report("done", 1.0)
    return result


def tid_ratio(stress: LvAnalysis, rest: LvAnalysis) -> float:
    """Transient ischaemic dilation: stress over rest cavity volume.

    With both sets gated, the ratio of their mean gated volumes (the volume of the
    ungated image averaged over the cycle, measured where the wall is sharper); otherwise
    the ratio of the summed-image volumes.
    """
    if stress.curve is not None and rest.curve is not None:
        return float(np.mean(stress.curve.volumes_ml) / np.mean(rest.curve.volumes_ml))
    return stress.ungated_volume_ml / rest.ungated_volume_ml
