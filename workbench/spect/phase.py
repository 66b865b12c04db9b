"""Phase analysis of LV mechanical dyssynchrony (first harmonic of regional thickening).

For every ray of the LV (above the valve plane) the wall thickness over the gates is
reduced to its first Fourier harmonic; the **phase** is the time of that harmonic's
maximum, in degrees of the R-R interval (0-360, 0 at the R wave). Over the LV, weighted
(by :mod:`workbench.spect.analysis`, with ED area times first-harmonic amplitude, so
that walls that hardly thicken, whose phase is noise, count less):

* **histogram**: 360 bins of 1 degree;
* **peak phase**: the circular mean phase;
* **phase SD**: standard deviation of the phases about the peak phase (each phase taken
  within +-180 degrees of it);
* **bandwidth**: the shortest arc holding 95 % of the weight;
* **entropy**: Shannon entropy of the 1-degree histogram over ``log(360)``, in percent
  (0 all in one bin, 100 uniform).

These follow the definitions of Chen et al. (J Nucl Cardiol 2005) and of the Emory
Cardiac Toolbox; values depend on the gate count, smoothing and noise, so compare only
results computed the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["PhaseResult", "first_harmonic", "phase_analysis"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PhaseResult:
    """Summary of the phase distribution (module docstring).

    Attributes
    ----------
    peak_deg, sd_deg, bandwidth_deg, entropy_pct
        The four indices.
    histogram
        Weight fraction per 1-degree bin, 360 values summing to 1.
    """

    peak_deg: float
    sd_deg: float
    bandwidth_deg: float
    entropy_pct: float
    histogram: tuple[float, ...]


def first_harmonic(curves: npt.ArrayLike) -> tuple[F64, F64]:
    """Phase (degrees, 0-360) and amplitude of the first harmonic along the last axis.

    Sample ``g`` of ``n`` stands for the middle of its gate, ``(g + 0.5) / n`` of the cycle.

    Examples
    --------
    >>> middle = (np.arange(8) + 0.5) / 8
    >>> phase, amp = first_harmonic(np.cos(2 * np.pi * (middle - 0.25)))
    >>> round(float(phase)), round(float(amp), 3)
    (90, 1.0)
    """
    c = np.asarray(curves, np.float64)
    n = c.shape[-1]
    f1 = (c * np.exp(-2j * np.pi * (np.arange(n) + 0.5) / n)).sum(axis=-1) * 2 / n
    return np.asarray((-np.degrees(np.angle(f1))) % 360.0), np.asarray(np.abs(f1))


def phase_analysis(phases_deg: npt.ArrayLike, weights: npt.ArrayLike) -> PhaseResult:
    """Summarise phases (any shape) with non-negative weights of the same shape."""
    p = np.asarray(phases_deg, np.float64).ravel() % 360.0
    w = np.asarray(weights, np.float64).ravel()
    keep = (w > 0) & np.isfinite(p)
    p, w = p[keep], w[keep] / max(float(w[keep].sum()), 1e-12)
    if p.size == 0:
        raise ValueError("phase analysis needs at least one weighted sample")
    mean = float(np.degrees(np.angle(np.sum(w * np.exp(1j * np.radians(p)))))) % 360.0
    offset = (p - mean + 180.0) % 360.0 - 180.0
    sd = float(np.sqrt(np.sum(w * offset**2)))
    hist = np.asarray(np.bincount(np.floor(p).astype(int) % 360, weights=w, minlength=360),
                      np.float64)  # fmt: skip
    nonzero = hist[hist > 0]
    entropy = float(-np.sum(nonzero * np.log(nonzero)) / np.log(360.0) * 100.0)
    return PhaseResult(peak_deg=mean, sd_deg=sd, bandwidth_deg=_bandwidth(hist, 0.95),
                       entropy_pct=entropy, histogram=tuple(float(x) for x in hist))  # fmt: skip


def _bandwidth(hist: F64, fraction: float) -> float:
    """Shortest circular arc (degrees, whole bins) whose bins hold `fraction` of the total."""
    doubled = np.concatenate([hist, hist])
    cumulative = np.concatenate([[0.0], np.cumsum(doubled)])
    best = 360
    for start in range(360):
        need = cumulative[start] + fraction * hist.sum() - 1e-12
        end = int(np.searchsorted(cumulative, need))
        best = min(best, end - start)
    return float(best)
