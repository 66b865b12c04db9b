"""Multiplanar reformats: a volume as a stack of axial, coronal or sagittal images.

Every reformat is a volume like :func:`~workbench.imaging.volume.series_volume`
returns (dims ``("z", "y", "x")``, mm coordinates, geometry attributes), in the
standard display orientation of its plane (PS3.3 C.7.6.2.1.1, LPS):

============  =========================  ===========================  ============
plane         columns (x) run towards    rows (y) run towards         z runs to
============  =========================  ===========================  ============
axial         patient left (+L)          posterior (+P)               superior
coronal       patient left (+L)          inferior (-S)                posterior
sagittal      posterior (+P)             inferior (-S)                patient right
============  =========================  ===========================  ============

So ``reformat(v, "coronal").isel(z=k)`` is a coronal image viewed from the front,
head up, patient right on the image left. A volume whose axes lie within
`max_obliquity` degrees of the patient axes is reformatted exactly by transposing
and flipping (the result shares memory with the input and keeps the true, slightly
oblique, orientation in its geometry); any other is resampled (scipy, ``analysis``
extra). Unevenly spaced or tilted volumes are first made regular by
:func:`~workbench.imaging.resample.resample`. ``y`` and ``x`` spacings differ in
general: display with the coordinates (or the ``spacing`` attribute) for the right
aspect ratio.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import xarray as xr

from workbench.imaging._optional import require
from workbench.imaging.geometry import Vector, VolumeGeometry
from workbench.imaging.resample import resample
from workbench.imaging.volume import geometry_of, volume_dataarray

__all__ = ["DISPLAY_ORIENTATIONS", "Plane", "aligned_axes", "axial", "coronal", "reformat",
           "sagittal"]  # fmt: skip

Plane = Literal["axial", "coronal", "sagittal"]

DISPLAY_ORIENTATIONS: dict[str, tuple[Vector, Vector]] = {
    "axial": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    "coronal": ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
    "sagittal": ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),
}
"""(row cosine, column cosine) of each plane's display orientation, LPS."""

_PER_SLICE = ("sop_instance_uid", "frame")


def reformat(
    volume: xr.DataArray,
    plane: Plane,
    *,
    max_obliquity: float = 1.0,
    order: int = 1,
    fill: float = math.nan,
) -> xr.DataArray:
    """Return `volume` as a stack of `plane` images in display orientation.

    Parameters
    ----------
    volume
        A volume from :func:`~workbench.imaging.volume.series_volume` (or a cut of one).
    plane
        ``"axial"``, ``"coronal"`` or ``"sagittal"``.
    max_obliquity
        Degrees within which volume axes count as aligned with the patient axes.
    order, fill
        Spline order and outside value when the volume must be resampled.

    Returns
    -------
    xarray.DataArray
        A new volume with attribute ``plane``; slice-wise coordinates of the input
        (``sop_instance_uid``, ``frame``) are dropped unless the plane is the
        acquisition plane.

    Raises
    ------
    ValueError
        An unknown plane.

    Examples
    --------
    >>> from workbench.demo import DEMO_PATIENTS, ct_series
    >>> from workbench.imaging.volume import series_volume
    >>> volume = series_volume(ct_series(DEMO_PATIENTS[0], seed=1, n_slices=4, rows=16,
    ...                                  columns=12))
    >>> image = reformat(volume, "coronal")
    >>> image.shape  # 16 coronal images of 4 rows (2.5 mm apart) x 12 columns (0.7 mm)
    (16, 4, 12)
    >>> [round(s, 6) for s in image.attrs["spacing"]]
    [0.7, 2.5, 0.7]
    """
    if plane not in DISPLAY_ORIENTATIONS:
        raise ValueError(f"plane {plane!r} is not one of {', '.join(DISPLAY_ORIENTATIONS)}")
    geometry = geometry_of(volume)
    if not geometry.is_regular:
        volume = resample(volume)
        geometry = geometry_of(volume)
    data = volume.transpose("z", "y", "x").values
    aligned = aligned_axes(geometry, plane, max_obliquity=max_obliquity)
    if aligned is None:
        values, target = _resampled(data, geometry, _targets(plane), order, fill)
        return volume_dataarray(values, target, {**volume.attrs, "plane": plane})
    permutation, signs = aligned
    permuted, target = _permuted(data, geometry, permutation, signs)
    result = volume_dataarray(permuted, target, {**volume.attrs, "plane": plane})
    if permutation[0] != 0:  # slices cut across the acquired ones
        return result
    for name in _PER_SLICE:
        if name in volume.coords:
            coord = volume[name].values
            result = result.assign_coords({name: ("z", coord if signs[0] > 0 else coord[::-1])})
    return result


def aligned_axes(
    geometry: VolumeGeometry, plane: Plane, *, max_obliquity: float = 1.0
) -> tuple[tuple[int, int, int], tuple[int, int, int]] | None:
    """How `plane` is cut from a volume by transposing and flipping, if it can be.

    Parameters
    ----------
    geometry
        The volume's geometry (voxel axes ``(slice, row, col)``).
    plane
        ``"axial"``, ``"coronal"`` or ``"sagittal"``.
    max_obliquity
        Degrees within which volume axes count as aligned with the patient axes.

    Returns
    -------
    tuple or None
        ``(permutation, signs)``: axis ``i`` of the reformat's ``(z, y, x)`` runs along
        volume axis ``permutation[i]`` (0 slice, 1 row, 2 column), in the direction of
        increasing index when ``signs[i]`` is 1, decreasing when -1. ``None`` when an
        axis is more oblique than `max_obliquity` (:func:`reformat` then resamples).

    Examples
    --------
    >>> from workbench.imaging.geometry import VolumeGeometry
    >>> axial_stack = VolumeGeometry(((0.0, 0.0, 0.0), (0.0, 0.0, 2.5)), (1.0, 0.0, 0.0),
    ...                              (0.0, 1.0, 0.0), (0.7, 0.7), 4, 4, 2.5)
    >>> aligned_axes(axial_stack, "coronal")  # z <- rows, y <- slices reversed, x <- columns
    ((1, 0, 2), (1, -1, 1))
    """
    targets = _targets(plane)
    axes = (np.asarray(geometry.normal), np.asarray(geometry.column_cosine),
            np.asarray(geometry.row_cosine))  # fmt: skip
    cosines = np.asarray([[float(t @ a) for a in axes] for t in targets])
    limit = math.cos(math.radians(max_obliquity))
    found = next(
        (p for p in itertools.permutations(range(3))
         if all(abs(cosines[i, p[i]]) >= limit for i in range(3))), None,
    )  # fmt: skip
    if found is None:
        return None
    a, b, c = (int(v) for v in found)
    sa, sb, sc = (1 if cosines[i, found[i]] > 0 else -1 for i in range(3))
    return (a, b, c), (sa, sb, sc)


def axial(volume: xr.DataArray, **options: Any) -> xr.DataArray:
    """Axial stack, inferior to superior (see :func:`reformat`)."""
    return reformat(volume, "axial", **options)


def coronal(volume: xr.DataArray, **options: Any) -> xr.DataArray:
    """Coronal stack, anterior to posterior (see :func:`reformat`)."""
    return reformat(volume, "coronal", **options)


def sagittal(volume: xr.DataArray, **options: Any) -> xr.DataArray:
    """Sagittal stack, patient left to right (see :func:`reformat`)."""
    return reformat(volume, "sagittal", **options)


# -- helpers -------------------------------------------------------------------------


def _targets(plane: Plane) -> tuple[npt.NDArray[Any], ...]:
    """Directions (LPS) of the reformat's z, y and x axes for `plane`."""
    row, col = (np.asarray(v) for v in DISPLAY_ORIENTATIONS[plane])
    return np.cross(row, col), col, row


def _permuted(
    data: npt.NDArray[Any],
    geometry: VolumeGeometry,
    permutation: tuple[int, ...],
    signs: tuple[int, ...],
) -> tuple[npt.NDArray[Any], VolumeGeometry]:
    """Transpose and flip: target axis i is source axis permutation[i] times signs[i]."""
    values = data.transpose(permutation)
    for axis, sign in enumerate(signs):
        if sign < 0:
            values = np.flip(values, axis=axis)
    directions = (geometry.normal, geometry.column_cosine, geometry.row_cosine)
    spacing = geometry.spacing
    corner = [0, 0, 0]
    for source, sign in zip(permutation, signs, strict=True):
        corner[source] = 0 if sign > 0 else data.shape[source] - 1
    origin = geometry.voxel_to_patient(np.asarray(corner, dtype=np.float64))
    new = [np.asarray(directions[p]) * s for p, s in zip(permutation, signs, strict=True)]
    return values, _regular_geometry(origin, new, [spacing[p] for p in permutation],
                                     values.shape, geometry.tolerance)  # fmt: skip


def _resampled(
    data: npt.NDArray[Any],
    geometry: VolumeGeometry,
    targets: tuple[npt.NDArray[Any], ...],
    order: int,
    fill: float,
) -> tuple[npt.NDArray[np.float32], VolumeGeometry]:
    """Sample the (regular) volume on a grid along `targets` covering all of it."""
    ndimage = require("scipy.ndimage", "an oblique reformat")
    corners = np.asarray(list(itertools.product(*[(0, n - 1) for n in data.shape])), float)
    points = geometry.voxel_to_patient(corners)
    axes = (geometry.normal, geometry.column_cosine, geometry.row_cosine)
    spacing, low, counts = [], [], []
    for target in targets:
        aligned = int(np.argmax([abs(float(target @ np.asarray(a))) for a in axes]))
        step = geometry.spacing[aligned]
        along = points @ target
        spacing.append(step)
        low.append(float(along.min()))
        counts.append(math.floor((float(along.max()) - float(along.min())) / step + 1e-6) + 1)
    origin = sum((lo * t for lo, t in zip(low, targets, strict=True)), np.zeros(3))
    target_geometry = _regular_geometry(origin, list(targets), spacing, tuple(counts),
                                        geometry.tolerance)  # fmt: skip
    out = np.empty(target_geometry.shape, dtype=np.float32)
    rows, cols = np.meshgrid(np.arange(counts[1]), np.arange(counts[2]), indexing="ij")
    for k in range(counts[0]):
        index = np.stack([np.full(rows.shape, k), rows, cols], axis=-1)
        source = geometry.patient_to_voxel(target_geometry.voxel_to_patient(index))
        coordinates = np.moveaxis(source, -1, 0)
        out[k] = ndimage.map_coordinates(data, coordinates, order=order, mode="constant",
                                         cval=fill, prefilter=order > 1)  # fmt: skip
    return out, target_geometry


def _regular_geometry(
    origin: npt.NDArray[Any],
    directions: list[npt.NDArray[Any]],
    spacing: list[float],
    shape: tuple[int, ...],
    tolerance: float,
) -> VolumeGeometry:
    """A regular geometry: directions and spacings of (z, y, x), first voxel at `origin`."""
    normal = np.asarray(directions[0], dtype=np.float64) * spacing[0]
    origins = tuple(_vector(origin + k * normal) for k in range(shape[0]))
    return VolumeGeometry(origins, _vector(directions[2]), _vector(directions[1]),
                          (spacing[1], spacing[2]), shape[1], shape[2], spacing[0],
                          tolerance)  # fmt: skip


def _vector(values: npt.ArrayLike) -> Vector:
    x, y, z = (float(v) for v in np.asarray(values, dtype=np.float64))
    return x, y, z
