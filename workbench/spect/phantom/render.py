"""Voxelising the phantom: activity per gate, blur and Poisson noise.

The field of view is a cube of ``matrix`` voxels centred on the LPS origin, axial
orientation (columns along +x, rows along +y, slices along +z); arrays are indexed
``(gate, z, y, x)``. The heart is voxelised on ``oversample^3`` sub-voxels per voxel
inside its bounding box; body (an elliptic cylinder) and liver (an ellipsoid) are
evaluated at voxel centres. The activity (normal myocardium 1.0) is then blurred with a
Gaussian of ``fwhm_mm`` and, when ``counts_per_ml`` is set, replaced by Poisson counts.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.ndimage import gaussian_filter

from workbench.spect.lvframe import LvFrame
from workbench.spect.phantom.heart import HeartModel
from workbench.spect.phantom.spec import PhantomSpec
from workbench.spect.phantom.truth import uptake_field

__all__ = ["NOISELESS_COUNTS_PER_ML", "grid_axis", "render_counts", "render_activity"]

F64 = npt.NDArray[np.float64]
NOISELESS_COUNTS_PER_ML = 50_000.0
"""Counts per mL of normal myocardium in each gate of a noiseless phantom (before rounding)."""


def grid_axis(spec: PhantomSpec) -> F64:
    """LPS coordinate (mm) of the voxel centres along any one axis of the cubic grid."""
    return np.asarray((np.arange(spec.matrix) - (spec.matrix - 1) / 2) * spec.voxel_mm, np.float64)


def _heart(model: HeartModel, frame: LvFrame, phase: float,
           points: F64) -> tuple[F64, F64]:  # fmt: skip
    """LV activity at LPS `points` ``(..., 3)`` (0 outside) and whether each is inside the
    epicardium (1.0 or 0.0)."""
    spec = model.spec
    axial, radius, theta = frame.cylindrical(points)
    z = -axial
    m = model.meridian(phase, theta)
    r2 = radius**2
    in_range = (z >= 0.0) & (z <= m.zb)
    epi = in_range & (r2 <= m.Re**2 * np.clip(1 - ((z - m.Le) / m.Le) ** 2, 0.0, None))
    endo = in_range & (r2 <= m.Rn**2 * np.clip(1 - ((z - m.Le) / m.Ln) ** 2, 0.0, None))
    endo &= z >= m.Le - m.Ln
    z_apex = m.Le - (m.Ln + m.Le) / 2
    h = 1.0 - (z - z_apex) / (m.zb - z_apex)
    uptake = uptake_field(spec, h, theta)
    activity = np.where(endo, spec.blood_pool, np.where(epi, uptake, 0.0))
    return activity, epi.astype(np.float64)


def render_activity(model: HeartModel, frame: LvFrame) -> F64:
    """Return noiseless, unblurred activity ``(gate, z, y, x)`` (normal myocardium 1.0)."""
    spec = model.spec
    axis = grid_axis(spec)
    z, y, x = np.meshgrid(axis, axis, axis, indexing="ij")
    body = (x / 170.0) ** 2 + ((y - 10.0) / 120.0) ** 2 <= 1.0
    liver = ((x + 55.0) / 95.0) ** 2 + ((y - 5.0) / 75.0) ** 2 + ((z + 95.0) / 50.0) ** 2 <= 1
    static = np.where(liver, spec.liver, np.where(body, spec.background, 0.0))
    # bounding box of the heart, generous enough for every gate
    apex = np.asarray(frame.origin)
    base = apex - (model.zb0 + 2.0) * np.asarray(frame.axis)
    radius = model.max_radius() + 2.0
    low = np.minimum(apex, base) - radius
    high = np.maximum(apex, base) + radius
    first = np.clip(np.floor((low - axis[0]) / spec.voxel_mm), 0, spec.matrix - 1).astype(int)
    last = np.clip(np.ceil((high - axis[0]) / spec.voxel_mm), 0, spec.matrix - 1).astype(int)
    os_ = spec.oversample
    sub = ((np.arange(os_) + 0.5) / os_ - 0.5) * spec.voxel_mm
    ranges = [axis[first[i]:last[i] + 1] for i in range(3)]  # x, y, z
    fine = [(r[:, None] + sub[None, :]).ravel() for r in ranges]
    pts = np.stack(np.meshgrid(fine[2], fine[1], fine[0], indexing="ij"), axis=-1)[..., ::-1]
    shape = tuple(len(r) for r in ranges[::-1])  # (nz, ny, nx)
    out = np.empty((spec.n_gates, *static.shape))
    box = (slice(first[2], last[2] + 1), slice(first[1], last[1] + 1),
           slice(first[0], last[0] + 1))  # fmt: skip
    for g, phase in enumerate(model.gate_phases()):
        heart, inside = _heart(model, frame, float(phase), pts)
        heart_vox = _bin(heart, shape, os_)
        cover = _bin(inside, shape, os_)
        gate = static.copy()
        gate[box] = gate[box] * (1.0 - cover) + heart_vox
        out[g] = gate
    return out


def _bin(values: F64, shape: tuple[int, ...], os_: int) -> F64:
    """Mean over each voxel's ``os_^3`` sub-voxels."""
    blocks = values.reshape(shape[0], os_, shape[1], os_, shape[2], os_)
    return np.asarray(blocks.mean(axis=(1, 3, 5)))


def render_counts(spec: PhantomSpec, activity: F64) -> npt.NDArray[np.uint16]:
    """Blur `activity` ``(gate, z, y, x)`` and turn it into counts per voxel per gate.

    Expected counts are ``activity * counts_per_ml * voxel_ml / n_gates``; with
    ``counts_per_ml`` None they are ``activity * NOISELESS_COUNTS_PER_ML * voxel_ml``
    rounded, otherwise Poisson draws from a generator seeded by ``spec.seed``.
    """
    sigma = spec.fwhm_mm / (2 * np.sqrt(2 * np.log(2))) / spec.voxel_mm
    voxel_ml = spec.voxel_mm**3 / 1000.0
    rng = np.random.default_rng([spec.seed % 2**32, 11])
    out = np.empty(activity.shape, dtype=np.uint16)
    for g in range(activity.shape[0]):
        blurred = gaussian_filter(activity[g], sigma, mode="constant") if sigma > 0 else activity[g]
        blurred = np.clip(blurred, 0.0, None)
        if spec.counts_per_ml is None:
            counts = np.rint(blurred * NOISELESS_COUNTS_PER_ML * voxel_ml)
        else:
            counts = rng.poisson(blurred * spec.counts_per_ml * voxel_ml / spec.n_gates)
        out[g] = np.clip(counts, 0, 65535).astype(np.uint16)
    return out
