"""Where the sampling grid goes, and where the valve plane is (helpers of segmentation).

:func:`study_grid` places the hybrid grid of :mod:`workbench.spect.sampling` on the
summed volume: the apical hemisphere's centre one cap radius (0.8 of the mid-ventricular
wall radius) below the apical wall found along the long axis, the cylinder reaching
25 mm past the valve plane. :func:`valve_positions` finds the valve plane per sector in
two passes (:func:`workbench.spect.surfaces.valve_plane`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from workbench.spect.lvframe import LvFrame
from workbench.spect.meridian import apex_z
from workbench.spect.reorient import LongAxis
from workbench.spect.sampling import SamplingGrid, make_grid, sample_profiles
from workbench.spect.surfaces import summed_peaks, valve_plane
from workbench.spect.volume import voxel_indices

__all__ = ["study_grid", "valve_positions"]

F64 = npt.NDArray[np.float64]


def _ray_peak(values: F64, affine: F64, origin: F64, dirs: F64) -> F64:
    t = np.arange(3.0, 80.0, 0.5)
    pts = origin + dirs[:, None, :] * t[None, :, None]
    idx = voxel_indices(affine, pts).reshape(-1, 3).T
    prof = ndi.map_coordinates(values, idx, order=1, mode="nearest").reshape(len(dirs), len(t))
    return np.asarray(t[np.argmax(prof, axis=1)])


def valve_positions(counts: F64, rho: F64, z: F64, grid: SamplingGrid) -> F64:
    """Two passes of :func:`valve_plane`: from 10 mm below the cap, then from mid-LV."""
    first = valve_plane(counts, rho, z, grid, -10.0)
    z_apex = apex_z(z)
    mid = float(np.median(first)) + 0.5 * (z_apex - float(np.median(first)))
    return valve_plane(counts, rho, z, grid, min(mid, -5.0))


def study_grid(total: F64, affine: F64, axis: LongAxis) -> SamplingGrid:
    """Place the grid: cap centre one cap radius below the apical wall, cylinder past the
    valve plane by 25 mm."""
    frame = axis.frame
    origin = np.asarray(axis.origin)
    apex_dist = float(_ray_peak(total, affine, origin, np.asarray([frame.axis]))[0])
    radial = frame.direction(np.arange(0.0, 360.0, 10.0))
    r_mid = float(np.median(_ray_peak(total, affine, origin, radial)))
    cap = max(0.8 * r_mid, 8.0)
    centre = origin + (apex_dist - cap) * np.asarray(frame.axis)
    lv = LvFrame((float(centre[0]), float(centre[1]), float(centre[2])), frame.axis)
    reach = float(np.clip(2.2 * r_mid + 20.0, 40.0, 90.0))
    probe = make_grid(lv, cap, 140.0, reach=reach)
    t = np.asarray(probe.t_mm)
    t_mid, counts = summed_peaks(sample_profiles(total, affine, probe), t)
    rho, z = probe.to_meridian(t_mid)
    depth = -float(np.median(valve_positions(counts, rho, z, probe)))
    return make_grid(lv, cap, min(depth + 25.0, 140.0), reach=reach)
