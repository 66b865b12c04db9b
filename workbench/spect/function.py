"""LV function from the gated surfaces: volumes, ejection fraction, filling, regional motion.

Conventions:

* Gate ``g`` of ``n`` stands for the time ``(g + 0.5) * RR / n`` after the R wave.
* The volume curve is fitted with a Fourier series of ``min(3, n // 2 - 1)`` harmonics
  (the usual choice of the clinical packages for 8 and 16 gates); rates come from its
  derivative sampled every millisecond: peak ejection rate (PER, most negative slope in
  systole) and peak filling rate (PFR, largest slope after end-systole) in EDV/s, and
  the time to peak filling (TTPF) in ms from end-systole. Without an R-R interval the
  rates are per R-R interval (EDV/RR) and the times fractions of it.
* **Thickening** of a ray is ``(T_ES - T_ED) / T_ED`` in percent (``T`` the wall thickness
  from :mod:`workbench.spect.surfaces`); **motion** is the distance in mm between the
  endocardial points at ED and at ES that have the same normalised long-axis position
  ``h`` and polar angle (so that the descent of the base counts as motion).
* Segment values are means over the rays of an AHA segment, weighted by ED area; a ray
  belongs to the segment of its ED ``(h, theta)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from workbench.spect.aha import SEGMENTS, segment_of
from workbench.spect.meridian import at_h
from workbench.spect.segmentation import LvSegmentation
from workbench.spect.surfaces import GateSurface

__all__ = ["VolumeCurve", "regional_motion", "segment_means", "volume_curve"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class VolumeCurve:
    """Global function of one gated set.

    Attributes
    ----------
    volumes_ml
        Cavity volume per gate.
    time_ms
        Time of each gate (its middle) after the R wave; fractions of R-R when unknown.
    edv_ml, esv_ml, sv_ml, ef_pct
        Largest and smallest gate volume, their difference and its share of EDV.
    ed_gate, es_gate
        Where they occur.
    fit_time_ms, fit_volumes_ml
        The Fourier fit sampled finely (for plotting).
    per_edv_s, pfr_edv_s, ttpf_ms
        Peak ejection rate and peak filling rate (EDV per second, or per R-R when the
        interval is unknown) and time to peak filling after ES.
    rr_interval_ms
        The R-R interval used, None if unknown.
    """

    volumes_ml: tuple[float, ...]
    time_ms: tuple[float, ...]
    edv_ml: float
    esv_ml: float
    sv_ml: float
    ef_pct: float
    ed_gate: int
    es_gate: int
    fit_time_ms: tuple[float, ...]
    fit_volumes_ml: tuple[float, ...]
    per_edv_s: float
    pfr_edv_s: float
    ttpf_ms: float
    rr_interval_ms: float | None


def volume_curve(volumes_ml: tuple[float, ...] | list[float],
                 rr_interval_ms: float | None = None) -> VolumeCurve:  # fmt: skip
    """Return EDV, ESV, EF and filling indices of a gated volume curve.

    Parameters
    ----------
    volumes_ml
        Cavity volume of each gate, gate 0 starting at the R wave.
    rr_interval_ms
        Nominal R-R interval; None: times and rates per R-R interval.

    Examples
    --------
    >>> c = volume_curve([120, 100, 60, 45, 90, 100, 105, 110], 1000.0)
    >>> round(c.ef_pct, 1), c.ed_gate, c.es_gate
    (62.5, 0, 3)
    """
    v = np.asarray(volumes_ml, np.float64)
    n = len(v)
    if n < 2:
        raise ValueError("a volume curve needs at least two gates")
    period = rr_interval_ms if rr_interval_ms else 1.0
    times = (np.arange(n) + 0.5) * period / n
    ed, es = int(np.argmax(v)), int(np.argmin(v))
    edv, esv = float(v[ed]), float(v[es])
    harmonics = max(1, min(3, n // 2 - 1))
    coef = np.fft.rfft(v) / n
    fine = np.arange(0.0, 1.0, 1.0 / max(int(round(period)), 1000))
    phase = 2 * np.pi * (fine - 0.5 / n)
    fit = np.full(fine.shape, coef[0].real)
    slope = np.zeros(fine.shape)
    for k in range(1, harmonics + 1):
        fit += 2 * (coef[k] * np.exp(1j * k * phase)).real
        slope += 2 * (1j * k * 2 * np.pi * coef[k] * np.exp(1j * k * phase)).real
    rate = slope / (period / 1000.0 if rr_interval_ms else 1.0) / max(edv, 1e-9)
    i_es = int(np.argmin(fit))
    per = float(-np.min(rate[: i_es + 1])) if i_es > 0 else float(-np.min(rate))
    after = rate[i_es:]
    i_pf = i_es + int(np.argmax(after))
    return VolumeCurve(
        volumes_ml=tuple(float(x) for x in v), time_ms=tuple(float(x) for x in times),
        edv_ml=edv, esv_ml=esv, sv_ml=edv - esv, ef_pct=100.0 * (edv - esv) / max(edv, 1e-9),
        ed_gate=ed, es_gate=es, fit_time_ms=tuple(float(x) for x in fine * period),
        fit_volumes_ml=tuple(float(x) for x in fit), per_edv_s=per,
        pfr_edv_s=float(rate[i_pf]), ttpf_ms=float((fine[i_pf] - fine[i_es]) * period),
        rr_interval_ms=rr_interval_ms,
    )  # fmt: skip


def regional_motion(ed: GateSurface, es: GateSurface) -> tuple[F64, F64]:
    """Return ``(motion_mm, thickening_pct)`` maps on the ED rays (module docstring)."""
    motion = np.hypot(ed.endo_rho - at_h(es.endo_rho, es.h, ed.h),
                      ed.endo_z - at_h(es.endo_z, es.h, ed.h))  # fmt: skip
    es_thickness = at_h(es.thickness, es.h, ed.h)
    thickening = 100.0 * (es_thickness - ed.thickness) / np.maximum(ed.thickness, 1e-6)
    return motion, thickening


def segment_means(values: F64, surface: GateSurface, theta_deg: F64) -> tuple[float, ...]:
    """Area-weighted mean of a ``(rings, sectors)`` map over each AHA segment 1-17.

    Rays below the valve plane (no area) do not count; a segment without rays gets NaN.
    """
    segments = segment_of(surface.h, theta_deg[None, :])
    out = []
    for s in SEGMENTS:
        w = np.where(segments == s, surface.area, 0.0)
        total = float(w.sum())
        out.append(float(np.sum(w * values) / total) if total > 0 else float("nan"))
    return tuple(out)


def gated_function(seg: LvSegmentation, rr_interval_ms: float | None) -> tuple[
        VolumeCurve, tuple[float, ...], tuple[float, ...], F64, F64]:  # fmt: skip
    """Volume curve, per-segment motion and thickening, and their ED maps."""
    curve = volume_curve(list(seg.volumes_ml), rr_interval_ms)
    ed, es = seg.gates[curve.ed_gate], seg.gates[curve.es_gate]
    motion, thickening = regional_motion(ed, es)
    theta = np.asarray(seg.grid.theta_deg)
    return (curve, segment_means(motion, ed, theta), segment_means(thickening, ed, theta),
            motion, thickening)  # fmt: skip
