"""Differential geometry of an LV surface stored as meridian curves.

A surface is two ``(rings, sectors)`` arrays: ``rho`` (distance from the long axis, mm)
and ``z`` (axial position, mm, growing towards the apex); column ``j`` is the meridian
curve of sector ``j``, from the apex (ring 0) to the base. Each sector is treated as a
slice of a surface of revolution about the long axis, which is exact for the usual LV
shapes and a fair approximation for the others.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "apex_z", "area_weights", "at_h", "enclosed_volume", "h_map", "mean_curvature", "normals",
    "ring_fraction",
]  # fmt: skip

F64 = npt.NDArray[np.float64]


def normals(rho: F64, z: F64) -> tuple[F64, F64]:
    """Unit outward normal ``(n_rho, n_z)`` of the meridian curves (away from the cavity)."""
    d_rho = np.gradient(rho, axis=0)
    d_z = np.gradient(z, axis=0)
    length = np.maximum(np.hypot(d_rho, d_z), 1e-9)
    return -d_z / length, d_rho / length


def mean_curvature(rho: F64, z: F64) -> F64:
    """Mean curvature (1/mm, positive where the surface is convex like a sphere seen from
    inside): half the sum of the meridian curvature and the parallel curvature
    ``n_rho / rho`` (Meusnier), the latter replaced by the former within 2 mm of the axis.
    """
    d_rho, d_z = np.gradient(rho, axis=0), np.gradient(z, axis=0)
    dd_rho, dd_z = np.gradient(d_rho, axis=0), np.gradient(d_z, axis=0)
    speed = np.maximum(np.hypot(d_rho, d_z), 1e-9)
    k_meridian = (d_z * dd_rho - d_rho * dd_z) / speed**3
    n_rho, _ = normals(rho, z)
    k_parallel = np.where(rho > 2.0, n_rho / np.maximum(rho, 1e-9), k_meridian)
    return np.asarray((k_meridian + k_parallel) / 2)


def ring_fraction(z: F64, z_valve: F64) -> F64:
    """Fraction (0 to 1) of each ring's stretch lying above the valve plane, per sector.

    A ring's stretch runs halfway to its neighbours along ``z``; `z_valve` has one value
    per sector.
    """
    upper = np.vstack([z[:1] + (z[:1] - z[1:2]) / 2, (z[:-1] + z[1:]) / 2])
    lower = np.vstack([(z[:-1] + z[1:]) / 2, z[-1:] - (z[-2:-1] - z[-1:]) / 2])
    span = np.maximum(upper - lower, 1e-9)
    return np.asarray(np.clip((upper - z_valve[None, :]) / span, 0.0, 1.0))


def area_weights(rho: F64, z: F64, z_valve: F64, n_sectors: int) -> F64:
    """Surface area (mm^2) each grid node stands for, up to the valve plane."""
    d_rho, d_z = np.gradient(rho, axis=0), np.gradient(z, axis=0)
    arc = np.hypot(d_rho, d_z)
    dtheta = 2 * np.pi / n_sectors
    return np.asarray(np.maximum(rho, 0.0) * dtheta * arc * ring_fraction(z, z_valve))


def enclosed_volume(rho: F64, z: F64, z_valve: F64) -> float:
    """Volume (mL) enclosed by the surface between its apex and the valve plane.

    Each sector contributes ``dtheta * integral(rho^2 / 2, dz)`` along its meridian from
    the apex (closed on the axis at the first ring's height) to ``z_valve`` of that
    sector; ``rho`` below 0 counts as 0.
    """
    r = np.maximum(rho, 0.0)
    n_sectors = r.shape[1]
    total = 0.0
    for j in range(n_sectors):
        zz = np.concatenate([[z[0, j]], z[:, j]])
        rr = np.concatenate([[0.0], r[:, j]])
        zv = float(z_valve[j])
        below = np.nonzero(zz <= zv)[0]
        stop = int(below[0]) if below.size else len(zz)
        if 0 < stop < len(zz):
            w = (zz[stop - 1] - zv) / max(zz[stop - 1] - zz[stop], 1e-9)
            r_cut = rr[stop - 1] + w * (rr[stop] - rr[stop - 1])
            zz = np.concatenate([zz[:stop], [zv]])
            rr = np.concatenate([rr[:stop], [r_cut]])
        else:
            zz, rr = zz[:stop], rr[:stop]
        sq = rr**2
        total += float(np.sum((sq[:-1] + sq[1:]) / 4 * (zz[:-1] - zz[1:])))
    return float(total * 2 * np.pi / n_sectors / 1000.0)


def at_h(values: F64, h_from: F64, h_to: F64) -> F64:
    """Resample ``(rings, sectors)`` `values` known at long-axis positions `h_from` to
    positions `h_to`, sector by sector (linear; constant beyond the ends)."""
    out = np.empty(h_to.shape)
    for j in range(values.shape[1]):
        order = np.argsort(h_from[:, j])
        out[:, j] = np.interp(h_to[:, j], h_from[order, j], values[order, j])
    return out


def apex_z(z: F64) -> float:
    """Axial position of the apex: the median over sectors of ring 0."""
    return float(np.median(z[0]))


def h_map(z: F64, z_valve: F64, z_apex: float | None = None) -> F64:
    """Normalised long-axis position of each node: 0 at the valve plane of its sector, 1 at
    `z_apex` (None: :func:`apex_z`), clipped to ``[-0.5, 1]``."""
    z_apex = apex_z(z) if z_apex is None else z_apex
    span = np.maximum(z_apex - z_valve[None, :], 1e-6)
    return np.asarray(np.clip((z - z_valve[None, :]) / span, -0.5, 1.0))
