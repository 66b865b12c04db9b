"""Segmentation of volumes into masks: threshold, region growing, components, clean-up, brush.

Volumes and masks follow :mod:`workbench.measure._grid`: DataArrays with dims
``("z", "y", "x")``, mm coordinates and ``attrs["affine"]`` (voxel ``(x, y, z)`` ->
patient LPS mm). Seeds and brush centres are patient LPS mm points ``(x, y, z)``;
radii are mm, turned into voxels through the affine, so structuring elements are
balls in the patient even when voxels are not cubes. Thresholds are in the volume's
units (``attrs["units"]``, e.g. HU) and inclusive. Every function returns a new mask
aligned with its input; nothing is modified in place.

Connectivity is that of :func:`scipy.ndimage.generate_binary_structure`: 1 joins
voxels sharing a face (6 neighbours), 2 also an edge (18), 3 also a corner (26).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr
from scipy import ndimage
from skimage.segmentation import flood

from workbench.measure import _grid

__all__ = [
    "brush",
    "brush_stroke",
    "close_mask",
    "connected_components",
    "fill_holes",
    "largest_component",
    "open_mask",
    "region_grow",
    "remove_small_components",
    "threshold",
]

_FIRST_REACH = 16
"""Voxels on each side of a seed in the first box that region growing floods."""
_FLOOD_LIMIT = 4_000_000
"""Boxes up to this many voxels are flood-filled; larger ones are labelled."""


def threshold(volume: xr.DataArray, lower: float | None = None, upper: float | None = None
              ) -> xr.DataArray:
    """Return the mask of voxels with ``lower <= value <= upper`` (a missing bound is open)."""
    _grid.affine(volume)
    values = np.asarray(volume.values)
    mask = np.ones(values.shape, dtype=bool)
    if lower is not None:
        mask &= values >= lower
    if upper is not None:
        mask &= values <= upper
    return _grid.like(volume, mask, "threshold")


def region_grow(
    volume: xr.DataArray,
    seeds: Sequence[Sequence[float]],
    lower: float | None = None,
    upper: float | None = None,
    *,
    tolerance: float | None = None,
    connectivity: int = 1,
) -> xr.DataArray:
    """Return the voxels connected to any seed through voxels within the thresholds.

    Parameters
    ----------
    volume
        The image volume.
    seeds
        Patient LPS mm points ``(x, y, z)``; each picks the voxel containing it.
    lower, upper
        Inclusive bounds in the volume's units. A missing bound is open, unless
        `tolerance` is given: then it is the lowest seed value minus `tolerance`
        (resp. the highest plus).
    tolerance
        See above, in the volume's units.
    connectivity
        1, 2 or 3 (see the module docstring).

    Raises
    ------
    ValueError
        No seed, a seed outside the volume, or a seed whose value is outside the
        bounds (the message gives it).
    """
    matrix = _grid.affine(volume)
    if not seeds:
        raise ValueError("region growing needs at least one seed")
    values = np.asarray(volume.values)
    voxels = _grid.nearest_voxels(matrix, seeds, values.shape, what="seed")
    seed_values = [float(values[v]) for v in voxels]
    if tolerance is not None:
        lower = min(seed_values) - tolerance if lower is None else lower
        upper = max(seed_values) + tolerance if upper is None else upper
    for point, value in zip(seeds, seed_values, strict=True):
        if np.isnan(value):
            raise ValueError(f"seed {tuple(point)} mm lies on a padding voxel (no value)")
        if (lower is not None and value < lower) or (upper is not None and value > upper):
            raise ValueError(
                f"seed {tuple(point)} mm has value {value:g}, outside [{lower}, {upper}]"
            )
    _structure(connectivity)
    grown = np.zeros(values.shape, dtype=bool)
    for voxel in voxels:
        if not grown[voxel]:
            box, region = _grow_in_box(values, voxel, lower, upper, connectivity)
            grown[box] |= region
    return _grid.like(volume, grown, "region")


def _within(values: npt.NDArray[Any], lower: float | None, upper: float | None
            ) -> npt.NDArray[np.bool_]:
    """``lower <= values <= upper`` with open missing bounds (NaN is never within)."""
    if lower is None and upper is None:
        return np.ones(values.shape, dtype=bool)
    if lower is None:
        return np.asarray(values <= upper)
    inside = np.asarray(values >= lower)
    if upper is not None:
        inside &= values <= upper
    return inside


def _grow_in_box(
    values: npt.NDArray[Any], voxel: tuple[int, int, int], lower: float | None,
    upper: float | None, connectivity: int,
) -> tuple[tuple[slice, ...], npt.NDArray[np.bool_]]:
    """Flood from `voxel` inside a box that grows until the region stays clear of its faces.

    A path leaving the box must pass through a voxel of the box's outer layer, so a
    region that touches no inner face of the box (one that is not the volume's edge) is
    the whole connected region. Each touched face moves out by half the box's width (at
    least :data:`_FIRST_REACH`), so the box ends at most about twice the region's
    bounding box along each axis and the work stays proportional to that box, not to
    the volume (a region spanning the volume costs a few floods of the whole volume).
    """
    shape = values.shape
    lo = [max(0, v - _FIRST_REACH) for v in voxel]
    hi = [min(n, v + _FIRST_REACH + 1) for v, n in zip(voxel, shape, strict=True)]
    while True:
        box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
        local = tuple(v - a for v, a in zip(voxel, lo, strict=True))
        region = _connected(_within(values[box], lower, upper), local, connectivity)
        moved = False
        for axis in range(3):
            step = max(_FIRST_REACH, (hi[axis] - lo[axis]) // 2)
            if lo[axis] > 0 and region.take(0, axis=axis).any():
                lo[axis], moved = max(0, lo[axis] - step), True
            if hi[axis] < shape[axis] and region.take(-1, axis=axis).any():
                hi[axis], moved = min(shape[axis], hi[axis] + step), True
        if not moved:
            return box, region
        if np.prod([b - a for a, b in zip(lo, hi, strict=True)]) > values.size // 4:
            lo, hi = [0, 0, 0], list(shape)  # most of the volume: take all of it at once


def _connected(allowed: npt.NDArray[np.bool_], voxel: tuple[int, ...], connectivity: int
               ) -> npt.NDArray[np.bool_]:
    """Return the voxels of `allowed` connected to `voxel` (which is allowed).

    A flood fill in small boxes (it visits only the region); component labelling in large
    ones (several times faster per voxel when the region fills much of the box).
    """
    if allowed.size <= _FLOOD_LIMIT:
        filled = flood(allowed, voxel, connectivity=connectivity)  # type: ignore[no-untyped-call]
        return np.asarray(filled)
    labels, _ = ndimage.label(allowed, _structure(connectivity))
    return np.asarray(labels == labels[voxel]) if labels[voxel] else np.zeros_like(allowed)


def connected_components(mask: xr.DataArray, *, connectivity: int = 1) -> xr.DataArray:
    """Return int32 labels of the mask's connected components, 0 for background.

    Labels are ordered by size: 1 is the largest component (ties by first voxel).
    """
    _grid.affine(mask)
    labels, count = ndimage.label(np.asarray(mask.values), _structure(connectivity))
    if count > 1:
        sizes = np.bincount(labels.ravel())[1:]
        order = np.argsort(-sizes, kind="stable")
        remap = np.zeros(count + 1, dtype=np.int32)
        remap[order + 1] = np.arange(1, count + 1, dtype=np.int32)
        labels = remap[labels]
    return _grid.like(mask, labels.astype(np.int32), "labels")


def largest_component(mask: xr.DataArray, *, connectivity: int = 1) -> xr.DataArray:
    """Return the largest connected component of `mask` (empty if `mask` is)."""
    labels = connected_components(mask, connectivity=connectivity)
    return _grid.like(mask, np.asarray(labels.values == 1), "largest")


def remove_small_components(
    mask: xr.DataArray, min_volume_ml: float, *, connectivity: int = 1
) -> xr.DataArray:
    """Return `mask` without the components smaller than `min_volume_ml` millilitres."""
    matrix = _grid.affine(mask)
    labels, count = ndimage.label(np.asarray(mask.values), _structure(connectivity))
    sizes_ml = np.bincount(labels.ravel()) * _grid.voxel_volume_mm3(matrix) / 1000.0
    keep = sizes_ml >= min_volume_ml
    keep[0] = False
    return _grid.like(mask, keep[labels], "cleaned")


def open_mask(mask: xr.DataArray, radius_mm: float) -> xr.DataArray:
    """Return the morphological opening of `mask` by a ball of `radius_mm` (removes spurs)."""
    ball = _ball(_grid.affine(mask), radius_mm)
    return _grid.like(mask, ndimage.binary_opening(np.asarray(mask.values), ball), "opened")


def close_mask(mask: xr.DataArray, radius_mm: float) -> xr.DataArray:
    """Return the morphological closing of `mask` by a ball of `radius_mm` (bridges gaps).

    The mask is padded first, so that the closing does not erode at the volume's edge.
    """
    ball = _ball(_grid.affine(mask), radius_mm)
    pad = [(n // 2, n // 2) for n in ball.shape]
    closed = ndimage.binary_closing(np.pad(np.asarray(mask.values), pad), ball)
    inner = tuple(slice(p, p + n) for (p, _), n in zip(pad, mask.shape, strict=True))
    return _grid.like(mask, closed[inner], "closed")


def fill_holes(mask: xr.DataArray) -> xr.DataArray:
    """Return `mask` with every cavity not connected to the volume's border filled."""
    _grid.affine(mask)
    return _grid.like(mask, ndimage.binary_fill_holes(np.asarray(mask.values)), "filled")


def brush(
    mask: xr.DataArray,
    center: Sequence[float],
    radius_mm: float,
    *,
    erase: bool = False,
    in_plane: bool = False,
) -> xr.DataArray:
    """Return `mask` with a ball (or, `in_plane`, a disc in one slice) painted or erased.

    Parameters
    ----------
    mask
        The mask to edit.
    center
        Patient LPS mm ``(x, y, z)`` of the brush centre (inside the volume).
    radius_mm
        Brush radius in mm; voxels whose centre is within it are edited.
    erase
        Set the voxels to False instead of True.
    in_plane
        Edit only the slice containing the centre (a 2-D brush on the viewed slice).
    """
    matrix = _grid.affine(mask)
    values = np.array(mask.values, dtype=bool)
    _paint(values, matrix, center, radius_mm, erase=erase, in_plane=in_plane)
    return _grid.like(mask, values, "edited")


def brush_stroke(
    mask: xr.DataArray,
    centers: Sequence[Sequence[float]],
    radius_mm: float,
    *,
    erase: bool = False,
    in_plane: bool = False,
) -> xr.DataArray:
    """Return `mask` with :func:`brush` applied at each of `centers` in turn.

    The same voxels as calling :func:`brush` once per centre, with one copy of the
    mask instead of one per centre (a stroke dragged in a viewer has many).

    Raises
    ------
    ValueError
        A centre lies outside the volume (the mask is then left as it was).
    """
    matrix = _grid.affine(mask)
    values = np.array(mask.values, dtype=bool)
    for center in centers:
        _paint(values, matrix, center, radius_mm, erase=erase, in_plane=in_plane)
    return _grid.like(mask, values, "edited")


def _paint(values: npt.NDArray[np.bool_], matrix: npt.NDArray[np.float64],
           center: Sequence[float], radius_mm: float, *, erase: bool, in_plane: bool) -> None:
    """Set (or clear) in place the voxels of `values` within the brush of :func:`brush`."""
    (z, y, x), = _grid.nearest_voxels(matrix, [center], values.shape, what="brush centre")
    c = _grid.to_index(matrix, [center])[0]
    reach = [int(np.ceil(radius_mm / s)) + 1 for s in _grid.spacing(matrix)]
    if in_plane:
        reach[0] = 0
    lo = [max(0, v - r) for v, r in zip((z, y, x), reach, strict=True)]
    hi = [min(n, v + r + 1) for v, r, n in zip((z, y, x), reach, values.shape, strict=True)]
    grid = np.stack(np.meshgrid(*(np.arange(a, b) for a, b in zip(lo, hi, strict=True)),
                                indexing="ij"), axis=-1).astype(np.float64)
    origin = np.array([z, c[1], c[2]]) if in_plane else c
    offsets = (grid - origin)[..., ::-1] @ matrix[:3, :3].T
    inside = np.einsum("...i,...i->...", offsets, offsets) <= radius_mm**2
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    values[box][inside] = not erase


def _structure(connectivity: int) -> npt.NDArray[np.bool_]:
    if connectivity not in (1, 2, 3):
        raise ValueError(f"connectivity is 1, 2 or 3, got {connectivity}")
    return np.asarray(ndimage.generate_binary_structure(3, connectivity))


def _ball(matrix: npt.NDArray[np.float64], radius_mm: float) -> npt.NDArray[np.bool_]:
    """Structuring element of the voxels whose centres are within `radius_mm` of the centre."""
    if not radius_mm > 0:
        raise ValueError(f"the radius must be positive, got {radius_mm}")
    reach = [int(np.floor(radius_mm / s)) for s in _grid.spacing(matrix)]
    axes = [np.arange(-r, r + 1, dtype=np.float64) for r in reach]
    zyx = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
    offsets = zyx[..., ::-1] @ matrix[:3, :3].T
    return np.asarray(np.einsum("...i,...i->...", offsets, offsets) <= radius_mm**2 + 1e-9)
