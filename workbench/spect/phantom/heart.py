"""The phantom's left ventricle as geometry: a truncated prolate-spheroid shell in motion.

Along the long axis ``z`` is measured in mm from the epicardial apex (fixed in space)
towards the base; ``r`` is the distance from the axis and ``theta`` the polar angle of
:mod:`workbench.spect.lvframe`. At contraction ``c`` (0 at end-diastole, 1 at
end-systole) the endocardium and the epicardium are two coaxial prolate spheroids with a
common centre at ``z = Le``:

* endocardium: semi-long axis ``Ln``, radius ``Rn``; epicardium ``Le = Ln + apex_ratio T``
  and ``Re = Rn + T``, where ``T`` is the equatorial wall thickness;
* both are cut by the valve plane at ``z = zb``, ``base_fraction * Ln`` above the equator;
* the cavity volume falls linearly with ``c`` from EDV to ESV, the valve plane moves
  ``basal_descent`` towards the apex, and ``T`` is solved so that the myocardial volume
  stays what it was at end-diastole (wall thickening at constant myocardial volume).

A cut spheroid of semi-axes ``(L, R)`` holds ``pi R^2 g(L, b)`` with
``g = (L + b) - (L^3 + b^3) / (3 L^2)`` between its apex and a plane ``b`` above its centre.

Late regions (:class:`~workbench.spect.phantom.spec.Dyssynchrony`) take their radii from
the contraction at their own, delayed, phase; the long-axis dimensions follow the
global phase. Their volumes are integrated over ``theta`` exactly on a fine grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import brentq

from workbench.spect.phantom.spec import PhantomSpec

__all__ = ["HeartModel", "Meridian", "contraction"]

F64 = npt.NDArray[np.float64]
_TABLE = 401  # contraction values at which the symmetric shape is solved


def contraction(phase: npt.ArrayLike) -> F64:
    """Return the contraction (0 at ED, 1 at ES) at cycle `phase` (fraction of R-R, periodic).

    Isovolumic contraction until 0.05, then ejection (a half cosine) to end-systole at
    0.35; rapid filling recovers 75 % of the stroke volume by 0.55, diastasis 7 % more by
    0.8, and atrial contraction the rest.

    Examples
    --------
    >>> contraction([0.0, 0.35, 0.55]).round(3).tolist()
    [0.0, 1.0, 0.25]
    """
    p = np.asarray(phase, np.float64) % 1.0
    iso, es, rf, atrial = 0.05, 0.35, 0.55, 0.8
    systole = (1 - np.cos(np.pi * np.clip(p - iso, 0.0, None) / (es - iso))) / 2
    filling = 1 - 0.75 * (1 - np.cos(np.pi * (p - es) / (rf - es))) / 2
    diastasis = 0.25 - 0.07 * (p - rf) / (atrial - rf)
    kick = 0.18 * (1 + np.cos(np.pi * (p - atrial) / (1 - atrial))) / 2
    out = np.where(p < es, systole, np.where(p < rf, filling, np.where(p < atrial, diastasis,
                                                                          kick)))
    return np.asarray(out, np.float64)


def _g(length: F64 | float, above: F64 | float) -> F64:
    """Volume factor of a cut spheroid (see module docstring)."""
    L, b = np.asarray(length, np.float64), np.asarray(above, np.float64)
    return np.asarray((L + b) - (L**3 + b**3) / (3 * L**2))


@dataclass(frozen=True)
class Meridian:
    """The shape at one instant, per polar angle: arrays over ``theta`` (or scalars).

    Attributes
    ----------
    Ln, Le
        Semi-long axes (mm) of endocardium and epicardium.
    Rn, Re
        Radii at the equator (mm), per polar angle.
    zb
        Valve plane position from the epicardial apex (mm).
    """

    Ln: float
    Le: float
    Rn: F64
    Re: F64
    zb: float

    @property
    def above(self) -> float:
        """Height of the valve plane above the common centre (mm)."""
        return self.zb - self.Le

    def endo_volume_ml(self) -> float:
        """Cavity volume: mean over angles of ``pi Rn^2 g(Ln, above)``, in mL."""
        return float(np.pi * np.mean(self.Rn**2) * _g(self.Ln, self.above)) / 1000.0

    def myocardial_volume_ml(self) -> float:
        """Myocardial volume between the two cut spheroids, in mL."""
        epi = np.mean(self.Re**2) * _g(self.Le, self.above)
        endo = np.mean(self.Rn**2) * _g(self.Ln, self.above)
        return float(np.pi * (epi - endo)) / 1000.0


class HeartModel:
    """The moving LV of a :class:`PhantomSpec` (the parameters in its docstring).

    Parameters
    ----------
    spec
        The phantom parameters; cavity volumes are scaled by ``spec.dilation`` while the
        myocardial volume stays that of the undilated heart.
    """

    def __init__(self, spec: PhantomSpec) -> None:
        self.spec = spec
        self._beta = spec.base_fraction
        self._gamma = spec.apex_ratio
        ref = self._ed_reference(spec.edv_ml, spec.wall_mm)
        self.myocardial_ml = ref[3]
        edv, esv = spec.edv_ml * spec.dilation, spec.esv_ml * spec.dilation
        eps = self._epsilon()
        rn0 = (edv * 1000 / (math.pi * eps * float(_g(1.0, self._beta)))) ** (1 / 3)
        ln0 = eps * rn0
        t0 = self._solve_wall(edv, ln0, rn0)
        self.zb0 = ln0 * (1 + self._beta) + self._gamma * t0
        ef = 1 - esv / edv
        descent = spec.basal_descent_mm
        if descent is None:
            descent = 0.15 * ln0 * (1 + self._beta) * ef / 0.6
        self.descent = float(descent)
        self._c = np.linspace(0.0, 1.0, _TABLE)
        shapes = np.array([self._solve(edv - c * (edv - esv), self.zb0 - self.descent * c)
                           for c in self._c])  # fmt: skip
        self._ln, self._rn, self._t = shapes.T

    def _epsilon(self) -> float:
        """Ln / Rn at ED from the length-to-diameter ratio."""
        return 2 * self.spec.length_to_diameter / (1 + self._beta)

    def _ed_reference(self, edv: float, wall: float) -> tuple[float, float, float, float]:
        """Undilated ED shape ``(Ln, Rn, T, myocardial mL)``."""
        eps = self._epsilon()
        rn = (edv * 1000 / (math.pi * eps * float(_g(1.0, self._beta)))) ** (1 / 3)
        ln = eps * rn
        mer = Meridian(ln, ln + self._gamma * wall, np.array([rn]), np.array([rn + wall]),
                       ln + self._gamma * wall + self._beta * ln)  # fmt: skip
        return ln, rn, wall, mer.myocardial_volume_ml()

    def _myo(self, ln: float, rn: float, t: float) -> float:
        b = self._beta * ln
        le, re = ln + self._gamma * t, rn + t
        return float(np.pi * (re**2 * _g(le, b) - rn**2 * _g(ln, b))) / 1000.0

    def _solve_wall(self, volume_ml: float, ln: float, rn: float) -> float:
        """Wall thickness giving the reference myocardial volume for a fixed cavity."""
        return float(brentq(lambda t: self._myo(ln, rn, t) - self.myocardial_ml, 0.05, 200.0))

    def _solve(self, volume_ml: float, zb: float) -> tuple[float, float, float]:
        """``(Ln, Rn, T)`` for a cavity volume and valve-plane position."""

        def shape(t: float) -> tuple[float, float]:
            ln = (zb - self._gamma * t) / (1 + self._beta)
            rn = math.sqrt(volume_ml * 1000 / (math.pi * float(_g(ln, self._beta * ln))))
            return ln, rn

        def residual(t: float) -> float:
            ln, rn = shape(t)
            return self._myo(ln, rn, t) - self.myocardial_ml

        t = float(brentq(residual, 0.05, 0.95 * zb / self._gamma))
        ln, rn = shape(t)
        return ln, rn, t

    # -- the shape at an instant -------------------------------------------------------

    def delay(self, theta_deg: npt.ArrayLike) -> F64:
        """Contraction delay (fraction of R-R) at polar angles `theta_deg`."""
        theta = np.asarray(theta_deg, np.float64)
        out = np.zeros_like(theta)
        for region in self.spec.dyssynchrony:
            offset = (theta - region.centre_deg + 180.0) % 360.0 - 180.0
            inside = np.abs(offset) < region.width_deg / 2
            bump = np.cos(np.pi * offset / region.width_deg) ** 2
            out = np.maximum(out, np.where(inside, region.delay * bump, 0.0))
        return out

    def meridian(self, phase: float, theta_deg: npt.ArrayLike) -> Meridian:
        """Return the shape at cycle `phase` for the polar angles `theta_deg`."""
        c_global = float(contraction(phase))
        local = contraction(phase - self.delay(theta_deg))
        ln = float(np.interp(c_global, self._c, self._ln))
        t_global = float(np.interp(c_global, self._c, self._t))
        rn = np.interp(local, self._c, self._rn)
        t = np.interp(local, self._c, self._t)
        return Meridian(ln, ln + self._gamma * t_global, rn, rn + t,
                        self.zb0 - self.descent * c_global)  # fmt: skip

    def max_radius(self) -> float:
        """Largest epicardial radius (mm) over the cycle and all angles."""
        return float(np.max(self._rn + self._t))

    def gate_phases(self) -> F64:
        """Cycle phase each gate shows: its middle, ``(g + 0.5) / n_gates``."""
        return (np.arange(self.spec.n_gates, dtype=np.float64) + 0.5) / self.spec.n_gates
