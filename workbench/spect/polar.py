"""Polar maps (bull's-eyes): LV values on a regular grid of long-axis position and angle.

A :class:`PolarMap` holds ``values[ring, sector]``: ring 0 is the apex and the last ring
the base (ring ``i`` at ``h = 1 - (i + 0.5) / n_rings``), sector ``j`` at polar angle
``theta = (j + 0.5) * 360 / n_sectors`` degrees (0 anterior, 90 septal, 180 inferior,
270 lateral). To draw it, put ring ``i`` at radius ``(i + 0.5) / n_rings`` and sector
``j`` at ``theta`` counter-clockwise from 12 o'clock: the septum then lies on the left.

The **perfusion** map holds each ray's mid-wall counts of the summed volume divided by
the 98th percentile of the map (normal myocardium near 1.0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from workbench.spect.aha import SEGMENTS, segment_of
from workbench.spect.meridian import at_h
from workbench.spect.sampling import smooth_map
from workbench.spect.surfaces import GateSurface

__all__ = ["PolarMap", "perfusion_map", "polar_map"]

F64 = npt.NDArray[np.float64]
N_RINGS = 36
N_SECTORS = 72


@dataclass(frozen=True, eq=False)
class PolarMap:
    """Values on the bull's-eye grid (module docstring).

    Attributes
    ----------
    values
        ``(rings, sectors)`` array, apex first.
    quantity, units
        What the values are, e.g. ``"perfusion"`` and ``"fraction of maximum"``.
    """

    values: F64
    quantity: str
    units: str

    @property
    def h(self) -> F64:
        """Normalised long-axis position of each ring (1 apex, 0 base)."""
        n = self.values.shape[0]
        return np.asarray(1.0 - (np.arange(n) + 0.5) / n)

    @property
    def theta_deg(self) -> F64:
        """Polar angle of each sector."""
        n = self.values.shape[1]
        return np.asarray((np.arange(n) + 0.5) * 360.0 / n)

    @property
    def segments(self) -> npt.NDArray[np.int8]:
        """AHA segment (1-17) of each cell."""
        return segment_of(self.h[:, None], self.theta_deg[None, :])

    def segment_means(self) -> tuple[float, ...]:
        """Mean value of each AHA segment 1-17 (cells weighted by their area on the map)."""
        weights = np.broadcast_to((1.0 - self.h)[:, None], self.values.shape)
        seg = self.segments
        return tuple(float(np.average(self.values[seg == s], weights=weights[seg == s]))
                     for s in SEGMENTS)  # fmt: skip

    def segment_min(self) -> tuple[float, ...]:
        """Lowest value in each AHA segment 1-17."""
        seg = self.segments
        return tuple(float(self.values[seg == s].min()) for s in SEGMENTS)


def polar_map(values: F64, surface: GateSurface, theta_deg: F64, quantity: str, units: str,
              *, n_rings: int = N_RINGS, n_sectors: int = N_SECTORS) -> PolarMap:  # fmt: skip
    """Resample a ``(rings, sectors)`` map of the sampling grid onto the bull's-eye grid.

    Values are interpolated along each sector by the rays' long-axis position ``h`` and
    then across sectors by angle (periodic).
    """
    h_target = np.broadcast_to(1.0 - (np.arange(n_rings) + 0.5)[:, None] / n_rings,
                               (n_rings, values.shape[1]))  # fmt: skip
    along = at_h(values, surface.h, np.ascontiguousarray(h_target))
    theta_out = (np.arange(n_sectors) + 0.5) * 360.0 / n_sectors
    src = np.asarray(theta_deg, np.float64)
    ext_theta = np.concatenate([src - 360.0, src, src + 360.0])
    out = np.empty((n_rings, n_sectors))
    for i in range(n_rings):
        ext = np.concatenate([along[i]] * 3)
        out[i] = np.interp(theta_out, ext_theta, ext)
    return PolarMap(values=out, quantity=quantity, units=units)


def perfusion_map(surface: GateSurface, theta_deg: F64) -> PolarMap:
    """The perfusion polar map of a (summed) surface: smoothed mid-wall counts over their
    98th percentile above the valve plane."""
    counts = smooth_map(surface.counts, (1.0, 1.0))
    inside = surface.h >= 0.0
    ref = float(np.percentile(counts[inside], 98)) if np.any(inside) else float(counts.max())
    return polar_map(counts / max(ref, 1e-9), surface, theta_deg, "perfusion",
                     "fraction of maximum")  # fmt: skip
