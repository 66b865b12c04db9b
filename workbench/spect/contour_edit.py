"""The reader's contour edits: "the endocardium passes here" turned into wall offsets.

A reader who disagrees with a detected contour clicks, on a slice of one gate, where the
endocardium should be. :func:`edit_offsets` finds the ray of the sampling grid that
passes nearest to that point, measures how far along the ray the point lies from the
endocardium of that gate, and spreads that distance over the neighbouring rays with a
Gaussian weight (:data:`SPREAD_RAYS`, about 5 mm along the wall and 15 degrees around
it), so that the wall bends smoothly towards the point. The result is an offset map for
:func:`~workbench.spect.segmentation.finish_lv`: every gate's wall moves by the same
amount along each ray (an edit corrects where the wall is, not how it moves), and the
counts, hence thickness, thickening and perfusion, stay those measured.

Edits add up: each one is measured against the contours shown (which already carry the
earlier edits) and added to the offsets they were made with. They belong to the grid of
one long axis: reorienting a set discards them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from workbench.spect.segmentation import WALL_OFFSET_LIMIT_MM, LvSegmentation
from workbench.spect.surfaces import GateSurface

__all__ = ["MAX_RAY_DISTANCE_MM", "SPREAD_RAYS", "ContourEdit", "edit_offsets", "nearest_ray"]

F64 = npt.NDArray[np.float64]
SPREAD_RAYS = (2.0, 2.0)
"""Gaussian spread of one edit, in rings (2.5 mm apart) and sectors (7.5 degrees)."""
MAX_RAY_DISTANCE_MM = 8.0
"""A point further than this from every ray is outside the sampled LV."""


@dataclass(frozen=True)
class ContourEdit:
    """"The endocardium of `gate` passes through `point_mm`".

    Attributes
    ----------
    point_mm
        The clicked point, LPS mm.
    gate
        The gate it was clicked on; None for the summed (ungated) image.
    """

    point_mm: tuple[float, float, float]
    gate: int | None = None


@dataclass(frozen=True)
class RayHit:
    """Where a point lies on the sampling grid.

    Attributes
    ----------
    ring, sector
        The nearest ray.
    t_mm
        Distance of the point's projection along that ray from the ray's origin.
    off_ray_mm
        Distance of the point from the ray.
    """

    ring: int
    sector: int
    t_mm: float
    off_ray_mm: float


def nearest_ray(seg: LvSegmentation, point_mm: npt.ArrayLike) -> RayHit:
    """The ray of `seg`'s grid that passes nearest to `point_mm` (ahead of its origin)."""
    origins, dirs = seg.grid.rays()
    rel = np.asarray(point_mm, np.float64) - origins
    t = np.einsum("ijk,ijk->ij", rel, dirs)
    off = np.linalg.norm(rel - t[..., None] * dirs, axis=-1)
    off = np.where(t > 0.0, off, np.inf)
    ring, sector = np.unravel_index(int(np.argmin(off)), off.shape)
    return RayHit(int(ring), int(sector), float(t[ring, sector]), float(off[ring, sector]))


def edit_offsets(seg: LvSegmentation, edits: ContourEdit | Sequence[ContourEdit]) -> F64:
    """Offsets (``(rings, sectors)`` mm, for ``finish_lv(wall_offsets_mm=...)``) that move
    `seg`'s endocardium through the edits' points, added to the offsets `seg` has.

    Raises
    ------
    ValueError
        A point off the sampled LV, below the valve plane, or further than
        :data:`~workbench.spect.segmentation.WALL_OFFSET_LIMIT_MM` from the contour; a
        gate `seg` does not have.
    """
    items = [edits] if isinstance(edits, ContourEdit) else list(edits)
    base = (np.zeros(seg.grid.shape) if seg.wall_offsets_mm is None
            else np.array(seg.wall_offsets_mm, np.float64))
    origins, dirs = seg.grid.rays()
    deltas = np.zeros(seg.grid.shape)
    weights = np.zeros(seg.grid.shape)
    for edit in items:
        surface = _surface(seg, edit.gate)
        hit = nearest_ray(seg, edit.point_mm)
        if hit.off_ray_mm > MAX_RAY_DISTANCE_MM:
            raise ValueError(f"the point {_mm(edit.point_mm)} lies {hit.off_ray_mm:.0f} mm "
                             "from the sampled left ventricle: click on its wall or cavity")
        if surface.h[hit.ring, hit.sector] < 0.0:
            raise ValueError(f"the point {_mm(edit.point_mm)} lies below the valve plane: "
                             "move the valve plane instead")
        endo = seg.grid.to_patient(surface.endo_rho, surface.endo_z)[hit.ring, hit.sector]
        t_endo = float((endo - origins[hit.ring, hit.sector]) @ dirs[hit.ring, hit.sector])
        delta = hit.t_mm - t_endo
        total = base[hit.ring, hit.sector] + delta
        if abs(total) > WALL_OFFSET_LIMIT_MM:
            raise ValueError(f"the point {_mm(edit.point_mm)} is {abs(total):.0f} mm from the "
                             f"detected endocardium; contour edits move the wall at most "
                             f"{WALL_OFFSET_LIMIT_MM:g} mm")
        w = _spread(seg.grid.shape, hit.ring, hit.sector)
        deltas += w * delta
        weights += w
    # where edits overlap, their weighted mean; elsewhere each fades out with its weight
    moved = deltas / np.maximum(weights, 1.0)
    return np.asarray(np.clip(base + moved, -WALL_OFFSET_LIMIT_MM, WALL_OFFSET_LIMIT_MM))


def _surface(seg: LvSegmentation, gate: int | None) -> GateSurface:
    if gate is None or not seg.gates:
        return seg.summed
    if not 0 <= gate < len(seg.gates):
        raise ValueError(f"gate {gate} is not one of the {len(seg.gates)} gates")
    return seg.gates[gate]


def _spread(shape: tuple[int, int], ring: int, sector: int) -> F64:
    """Gaussian weight of every ray around (ring, sector); sectors wrap around."""
    rings, sectors = shape
    di = np.arange(rings)[:, None] - ring
    dj = (np.arange(sectors)[None, :] - sector + sectors // 2) % sectors - sectors // 2
    return np.asarray(np.exp(-0.5 * ((di / SPREAD_RAYS[0]) ** 2 + (dj / SPREAD_RAYS[1]) ** 2)))


def _mm(point: Sequence[float]) -> str:
    return "(" + ", ".join(f"{float(v):.1f}" for v in point) + ") mm"
