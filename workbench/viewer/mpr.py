"""Multiplanar display: how the browser cuts axial, coronal and sagittal images.

The browser already holds every slice of a stack as raw pixels, so it builds the
reformatted images itself by index arithmetic (``assets/image_view.js``), without a
round trip to Python. What it needs per plane is a :class:`ReformatPlane`: which
axis of the acquired volume each axis of the reformat runs along and in which
direction, taken from :func:`workbench.imaging.mpr.aligned_axes` so that the browser,
:func:`workbench.imaging.mpr.reformat` and the measurements agree, plus spacing and
orientation markers.

Index conventions: a volume voxel is ``(slice, row, col)``, zero-based, slices in
display order (by position along the slice normal, as
:func:`~workbench.viewer.series.describe_series` and
:func:`~workbench.imaging.volume.series_volume` order them); a reformatted voxel is
``(k, row, col)`` of the plane's stack in its display orientation (PS3.3 C.7.6.2.1.1,
see :mod:`workbench.imaging.mpr`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.imaging.geometry import VolumeGeometry
from workbench.imaging.mpr import DISPLAY_ORIENTATIONS, Plane, aligned_axes
from workbench.viewer.labels import Markers, markers_from_cosines

__all__ = ["PLANES", "ReformatPlane", "reformat_planes"]

PLANES: tuple[Plane, ...] = ("axial", "coronal", "sagittal")
"""The planes the viewer offers besides the acquired images."""

Index = tuple[int, int, int]


@dataclass(frozen=True)
class ReformatPlane:
    """One plane of a volume as transposes and flips of its voxel axes.

    Attributes
    ----------
    plane
        ``"axial"``, ``"coronal"`` or ``"sagittal"``.
    axes, signs
        Axis ``i`` of the reformat's ``(k, row, col)`` runs along volume axis
        ``axes[i]`` (0 slice, 1 row, 2 column), with increasing index when
        ``signs[i]`` is 1 and decreasing when -1.
    shape
        ``(images, rows, columns)`` of the reformatted stack.
    spacing
        ``(between images, between rows, between columns)`` in mm.
    first, step
        Position (mm along the plane's normal, LPS) of image 0 and the step to the next.
    markers
        Orientation letters at the edges of the reformatted images.
    """

    plane: str
    axes: Index
    signs: Index
    shape: Index
    spacing: tuple[float, float, float]
    first: float
    step: float
    markers: Markers

    def to_volume(self, index: Index) -> Index:
        """Volume voxel ``(slice, row, col)`` of reformatted voxel `index` ``(k, row, col)``."""
        source = [0, 0, 0]
        for i, (axis, sign) in enumerate(zip(self.axes, self.signs, strict=True)):
            source[axis] = index[i] if sign > 0 else self.shape[i] - 1 - index[i]
        return source[0], source[1], source[2]

    def from_volume(self, voxel: Index) -> Index:
        """Reformatted voxel ``(k, row, col)`` of volume voxel `voxel` (inverse of
        :meth:`to_volume`)."""
        target = [0, 0, 0]
        for i, (axis, sign) in enumerate(zip(self.axes, self.signs, strict=True)):
            target[i] = voxel[axis] if sign > 0 else self.shape[i] - 1 - voxel[axis]
        return target[0], target[1], target[2]

    def to_js(self) -> dict[str, Any]:
        """The plane as the browser's image component reads it (JSON-ready)."""
        m = self.markers
        return {"axes": list(self.axes), "signs": list(self.signs), "shape": list(self.shape),
                "spacing": list(self.spacing), "first": self.first, "step": self.step,
                "markers": {"left": m.left, "right": m.right, "top": m.top,
                            "bottom": m.bottom}}


def reformat_planes(geometry: VolumeGeometry, *,
                    max_obliquity: float = 1.0) -> dict[str, ReformatPlane]:
    """Return the axial, coronal and sagittal planes the browser can cut from a volume.

    Parameters
    ----------
    geometry
        The acquired volume (slices in display order).
    max_obliquity
        Degrees within which the volume's axes count as aligned with the patient axes.

    Returns
    -------
    dict
        Plane name to :class:`ReformatPlane`; empty for a single slice, a volume that is
        not a regular grid (gantry tilt, uneven spacing: resample it in the kernel with
        :func:`workbench.imaging.resample.resample`) or an oblique one.

    Examples
    --------
    >>> axial_stack = VolumeGeometry(tuple((0.0, 0.0, -2.5 * k) for k in range(3))[::-1],
    ...                              (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.7, 0.7), 4, 5, 2.5)
    >>> coronal = reformat_planes(axial_stack)["coronal"]
    >>> coronal.shape, coronal.spacing, coronal.markers.top
    ((4, 3, 5), (0.7, 2.5, 0.7), 'H')
    """
    if geometry.shape[0] < 2 or not geometry.is_regular:
        return {}
    found: dict[str, ReformatPlane] = {}
    for plane in PLANES:
        aligned = aligned_axes(geometry, plane, max_obliquity=max_obliquity)
        if aligned is None:
            return {}
        axes, signs = aligned
        shape = tuple(geometry.shape[a] for a in axes)
        spacing = tuple(float(geometry.spacing[a]) for a in axes)
        row, column = (np.asarray(v) for v in DISPLAY_ORIENTATIONS[plane])
        normal = np.cross(row, column)
        corner = [0, 0, 0]
        for axis, sign in zip(axes, signs, strict=True):
            corner[axis] = 0 if sign > 0 else geometry.shape[axis] - 1
        origin = geometry.voxel_to_patient(np.asarray(corner, dtype=np.float64))
        found[plane] = ReformatPlane(
            plane, axes, signs, (shape[0], shape[1], shape[2]),
            (spacing[0], spacing[1], spacing[2]), round(float(origin @ normal), 3),
            spacing[0], markers_from_cosines(tuple(row), tuple(column)))
    return found
