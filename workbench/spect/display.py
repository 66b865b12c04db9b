"""What a Gated SPECT display draws, as plain arrays: slice rows, contours, bull's-eyes.

Pure numpy (no UI library), shared by the Panel dashboard
(:mod:`workbench.viewer.spect`), notebooks and tests.

Slice rows
    :func:`slice_row` reslices a set along its LV axes (:func:`~workbench.spect.slices.reslice`)
    and lays ``n`` slices of one view side by side in one **mosaic** per gate: image
    ``(rows, n * tile)`` with row 0 at the top and column 0 at the left, in the display
    conventions of :mod:`workbench.spect.slices` (SA apex to base, left to right). Contours
    are the endocardial and epicardial surfaces cut by each slice plane, as line segments
    ``(m, 4)`` = ``x0, y0, x1, y1`` in mosaic pixel units: ``x`` to the right and ``y``
    down, pixel ``(row, col)`` covering ``[col, col + 1) x [row, row + 1)``.
Bull's-eyes
    :func:`bullseye` rasterises a :class:`~workbench.spect.polar.PolarMap` on the unit
    disc: ``x`` to the right, ``y`` up, array index ``[iy, ix]`` with ``iy = 0`` at the
    **bottom** (``y = -1``); the apex is the centre, the base the rim, anterior at 12
    o'clock and septal at 9 o'clock. :func:`segment_outlines` and :func:`segment_anchor`
    give the AHA 17-segment boundaries and label positions in the same coordinates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import xarray as xr

from workbench.spect.aha import APEX_CAP, segment_centre
from workbench.spect.analysis import StudyAnalysis, analyze_study
from workbench.spect.polar import PolarMap
from workbench.spect.reorient import LongAxis
from workbench.spect.scores import NormalLimits
from workbench.spect.segmentation import LvSegmentation
from workbench.spect.slices import View, reslice, surface_points
from workbench.spect.surfaces import GateSurface
from workbench.spect.volume import affine_of, voxel_indices

__all__ = [
    "STATES", "VIEWS", "DisplayData", "SliceRow", "bullseye", "display_data", "plane_cut",
    "reversibility_map", "segment_anchor", "segment_outlines", "slice_row",
]  # fmt: skip

STATES = ("stress", "rest")
VIEWS: tuple[View, ...] = ("sa", "vla", "hla")

F64 = npt.NDArray[np.float64]
SLICE_COUNTS: dict[View, int] = {"sa": 8, "vla": 5, "hla": 5}
"""Slices per row of each view, the default of :func:`slice_row`."""


@dataclass(frozen=True, eq=False)
class SliceRow:
    """One view of one set: a mosaic of slices per gate and the contours on it.

    Attributes
    ----------
    view
        ``"sa"``, ``"vla"`` or ``"hla"``.
    images
        ``(gates, rows, n_slices * tile)`` counts; one "gate" for an ungated set.
    slices
        Index of each tile's slice in the resliced cube (along its ``z``).
    tile, spacing_mm
        Tile edge in pixels and pixel size in mm.
    endo, epi
        Per gate, the contour segments ``(m, 4)`` (module docstring).
    affine
        Voxel ``(x, y, z)`` of the resliced cube to LPS mm (4 x 4); None: unknown.
    """

    view: View
    images: F64
    slices: tuple[int, ...]
    tile: int
    spacing_mm: float
    endo: tuple[F64, ...]
    epi: tuple[F64, ...]
    affine: F64 | None = None

    def point_mm(self, x: float, y: float) -> tuple[float, float, float]:
        """LPS mm of mosaic position ``(x, y)`` (pixel units, module docstring): the
        point of the slice in the tile `x` falls in."""
        if self.affine is None:
            raise ValueError("this slice row has no geometry")
        k = min(max(int(x // self.tile), 0), len(self.slices) - 1)
        index = np.array([x - k * self.tile - 0.5, y - 0.5, float(self.slices[k]), 1.0])
        px, py, pz = (float(v) for v in (self.affine @ index)[:3])
        return px, py, pz

    @property
    def n_gates(self) -> int:
        """Number of gates (1 for an ungated set)."""
        return int(self.images.shape[0])


def plane_cut(points: F64, valid: npt.NDArray[np.bool_], level: float) -> F64:
    """Cut a closed-apex surface mesh with the plane ``z = level``.

    Parameters
    ----------
    points
        ``(rings, sectors, 3)`` vertices as ``(z, y, x)`` voxel indices; rings run from the
        apex to the base, sectors wrap around. The apex is closed by a pole at the mean of
        ring 0.
    valid
        ``(rings, sectors)``: vertices to keep (triangles with any other vertex are dropped,
        e.g. below the valve plane).
    level
        The plane's ``z`` index.

    Returns
    -------
    numpy.ndarray
        ``(m, 4)`` segments ``(x0, y0, x1, y1)`` in voxel index units (column, row).

    Examples
    --------
    A 12-sided cylinder of radius 2 about the z axis, cut at z = 1.5: two segments per
    quad (each is split into two triangles), on the 12-gon's edges:

    >>> angle = np.radians(np.arange(0, 360, 30))[None, :]
    >>> z = np.arange(4.0)[:, None] + 0 * angle
    >>> pts = np.stack([z, 2 * np.sin(angle) + 0 * z, 2 * np.cos(angle) + 0 * z], axis=-1)
    >>> cut = plane_cut(pts, np.ones(z.shape, bool), 1.5)
    >>> radius = np.hypot(cut[:, 0::2], cut[:, 1::2])
    >>> len(cut), bool(np.all((radius > 1.93) & (radius < 2 + 1e-9)))
    (24, True)
    """
    p = np.asarray(points, np.float64)
    ok = np.asarray(valid, bool)
    n_rings, n_sectors = ok.shape
    r = np.arange(n_rings - 1)[:, None]
    s = np.arange(n_sectors)[None, :]
    s1 = (s + 1) % n_sectors
    flat = p.reshape(-1, 3)
    v_ok = ok.ravel()
    a, b = (r * n_sectors + s).ravel(), (r * n_sectors + s1).ravel()
    c, d = ((r + 1) * n_sectors + s).ravel(), ((r + 1) * n_sectors + s1).ravel()
    tris = [np.stack([a, b, c], 1), np.stack([b, d, c], 1)]
    if ok[0].all():  # close the apex with a fan around the pole
        flat = np.vstack([flat, p[0].mean(axis=0)])
        v_ok = np.append(v_ok, True)
        pole = np.full(n_sectors, len(flat) - 1)
        tris.append(np.stack([pole, np.arange(n_sectors), (np.arange(n_sectors) + 1)
                              % n_sectors], 1))  # fmt: skip
    tri = np.vstack(tris)
    tri = tri[v_ok[tri].all(axis=1)]
    verts = flat[tri]  # (m, 3 vertices, zyx)
    dist = verts[..., 0] - level
    above = dist >= 0
    mixed = above.any(axis=1) & ~above.all(axis=1)
    verts, dist, above = verts[mixed], dist[mixed], above[mixed]
    i, j = np.array([0, 1, 2]), np.array([1, 2, 0])
    crosses = above[:, i] != above[:, j]  # (m, 3 edges)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = dist[:, i] / (dist[:, i] - dist[:, j])
    t = np.where(crosses, t, 0.0)
    hits = verts[:, i] + t[..., None] * (verts[:, j] - verts[:, i])  # (m, 3, zyx)
    order = np.argsort(~crosses, axis=1, kind="stable")[:, :2]
    two = np.take_along_axis(hits, order[..., None], axis=1)  # (m, 2, zyx)
    return np.column_stack([two[:, 0, 2], two[:, 0, 1], two[:, 1, 2], two[:, 1, 1]])


def _surface_cuts(seg: LvSegmentation, surf: GateSurface, gate: int | None, affine: F64,
                  slices: tuple[int, ...], tile: int) -> tuple[F64, F64]:  # fmt: skip
    """Endo- and epicardial segments of one gate on a mosaic of `slices`."""
    valid = np.asarray(surf.h >= 0.0)
    out = []
    for which in ("endo", "epi"):
        idx = voxel_indices(affine, surface_points(seg, gate, which))
        parts = []
        for k, z in enumerate(slices):
            cut = plane_cut(idx, valid, float(z))
            parts.append(cut + np.array([k * tile + 0.5, 0.5, k * tile + 0.5, 0.5]))
        out.append(np.vstack(parts) if parts else np.empty((0, 4)))
    return out[0], out[1]


def _slice_positions(seg: LvSegmentation, affine: F64, n: int, size: int) -> tuple[int, ...]:
    """`n` slice indices evenly over the extent of the summed epicardium (above the valve)."""
    idx = voxel_indices(affine, surface_points(seg, None, "epi"))
    z = idx[..., 0][seg.summed.h >= 0.0]
    lo, hi = (float(z.min()), float(z.max())) if z.size else (0.0, size - 1.0)
    lo, hi = max(lo + 0.5, 0.0), min(hi - 0.5, size - 1.0)
    return tuple(int(round(v)) for v in np.linspace(lo, max(hi, lo), n))


def slice_row(volume: xr.DataArray, seg: LvSegmentation, view: View, *,
              n_slices: int | None = None, spacing_mm: float | None = None,
              size_mm: float = 120.0) -> SliceRow:  # fmt: skip
    """Reslice `volume` along `seg`'s axes and lay out one view's slices (module docstring).

    Parameters
    ----------
    volume
        The ``([gate,] z, y, x)`` set `seg` was computed on.
    seg
        Its segmentation (long axis and surfaces).
    view
        ``"sa"``, ``"vla"`` or ``"hla"``.
    n_slices
        Tiles in the row; None: :data:`SLICE_COUNTS`.
    spacing_mm
        Pixel size; None: half the volume's smallest voxel edge.
    size_mm
        Edge of the field each tile shows, centred on the long axis origin.

    Returns
    -------
    SliceRow
    """
    n = n_slices or SLICE_COUNTS[view]
    step = spacing_mm or 0.5 * float(np.min(np.linalg.norm(affine_of(volume)[:3, :3], axis=0)))
    cube = reslice(volume, seg.long_axis, view, spacing_mm=step, size_mm=size_mm)
    affine = affine_of(cube)
    values = np.asarray(cube.values, np.float64)
    if values.ndim == 3:
        values = values[None]
    tile = values.shape[-1]
    slices = _slice_positions(seg, affine, n, values.shape[1])
    images = np.concatenate([values[:, k] for k in slices], axis=-1)
    gated = bool(seg.gates) and "gate" in volume.dims
    surfaces = [(g, s) for g, s in enumerate(seg.gates)] if gated else [(None, seg.summed)]
    cuts = [_surface_cuts(seg, s, g, affine, slices, tile) for g, s in surfaces]
    return SliceRow(view=view, images=images, slices=slices, tile=tile, spacing_mm=step,
                    endo=tuple(c[0] for c in cuts), epi=tuple(c[1] for c in cuts),
                    affine=affine)


def bullseye(pmap: PolarMap, size: int = 161) -> F64:
    """Rasterise `pmap` on the unit disc, ``(size, size)``, NaN outside (module docstring).

    Examples
    --------
    >>> values = np.zeros((36, 72))
    >>> values[:, 18:36] = 1.0          # theta 90-180 degrees: septal to inferior
    >>> img = bullseye(PolarMap(values, "test", "1"), size=101)
    >>> float(img[25, 25]), float(img[75, 75]), bool(np.isnan(img[0, 0]))
    (1.0, 0.0, True)
    """
    c = (np.arange(size) + 0.5) / size * 2.0 - 1.0
    x, y = np.meshgrid(c, c)  # y[iy, ix] = c[iy]: row 0 at the bottom
    r = np.hypot(x, y)
    theta = np.degrees(np.arctan2(-x, y)) % 360.0
    n_rings, n_sectors = pmap.values.shape
    ring = np.clip((r * n_rings).astype(int), 0, n_rings - 1)
    sector = np.clip((theta / 360.0 * n_sectors).astype(int), 0, n_sectors - 1)
    out = np.asarray(pmap.values, np.float64)[ring, sector]
    return np.where(r <= 1.0, out, np.nan)


def _point(r: float | F64, theta_deg: float | F64) -> tuple[F64, F64]:
    t = np.radians(theta_deg)
    return np.asarray(-np.multiply(r, np.sin(t))), np.asarray(np.multiply(r, np.cos(t)))


def segment_outlines() -> list[tuple[F64, F64]]:
    """Polylines ``(x, y)`` of the AHA segment boundaries on the unit-disc bull's-eye.

    Ring radius is ``1 - h``: the apex cap ends at ``1 - APEX_CAP``, the apical, mid and
    basal thirds at 0.4, 0.7 and 1.0.
    """
    third = APEX_CAP / 3.0
    radii = [1.0 - APEX_CAP, 1.0 - 2 * third, 1.0 - third, 1.0]
    circle = np.linspace(0.0, 360.0, 121)
    lines = [_point(r, circle) for r in radii]
    lines += [_point(np.array([radii[1], 1.0]), np.full(2, 30.0 + 60.0 * k)) for k in range(6)]
    lines += [_point(np.array([radii[0], radii[1]]), np.full(2, 45.0 + 90.0 * k))
              for k in range(4)]  # fmt: skip
    return lines


def segment_anchor(segment: int) -> tuple[float, float]:
    """Where to write `segment`'s label on the unit-disc bull's-eye, ``(x, y)``.

    Examples
    --------
    >>> [round(v, 2) + 0.0 for v in segment_anchor(3)]     # basal inferoseptal: lower left
    [-0.74, -0.42]
    """
    h, theta = segment_centre(segment)
    x, y = _point(1.0 - h if segment != 17 else 0.0, theta)
    return float(x), float(y)


def reversibility_map(stress: PolarMap, rest: PolarMap) -> PolarMap:
    """Rest minus stress uptake where positive (what recovers at rest), on the same grid."""
    if stress.values.shape != rest.values.shape:
        raise ValueError(f"stress and rest polar maps differ in shape: "
                         f"{stress.values.shape} vs {rest.values.shape}")  # fmt: skip
    return PolarMap(np.clip(rest.values - stress.values, 0.0, None), "reversibility",
                    "fraction of maximum")  # fmt: skip


@dataclass(frozen=True, eq=False)
class DisplayData:
    """What a Gated SPECT display shows: the analysis and the slice rows of each set.

    Attributes
    ----------
    study
        The analysis.
    rows
        Slice rows by ``(state, view)``.
    """

    study: StudyAnalysis
    rows: dict[tuple[str, str], SliceRow]


def display_data(stress: xr.DataArray | None, rest: xr.DataArray | None, *,
                 analysis: StudyAnalysis | None = None, normals: NormalLimits | None = None,
                 resolution_fwhm_mm: float | None = None,
                 stress_axis: LongAxis | None = None, rest_axis: LongAxis | None = None,
                 progress: Callable[[str, float], None] | None = None,
                 stress_valve_shift_mm: float = 0.0, rest_valve_shift_mm: float = 0.0,
                 stress_wall_offsets_mm: npt.ArrayLike | None = None,
                 rest_wall_offsets_mm: npt.ArrayLike | None = None,
                 ) -> DisplayData:  # fmt: skip
    """Analyse (unless `analysis` is given) and reslice a study for display.

    `normals`, `resolution_fwhm_mm`, the axes, valve-plane shifts and contour edits go to
    :func:`~workbench.spect.analysis.analyze_study`; `progress` is called with what is being
    done and the fraction done (0 to 1): the analysis is the first 80 %.
    """
    report = progress or (lambda _what, _done: None)
    if analysis is None:
        def steps(what: str, done: float) -> None:  # the analysis is the first 80 %
            if done < 1.0:
                report(what, 0.8 * done)

        analysis = analyze_study(stress, rest, normals=normals,
                                 resolution_fwhm_mm=resolution_fwhm_mm, stress_axis=stress_axis,
                                 rest_axis=rest_axis, progress=steps,
                                 stress_valve_shift_mm=stress_valve_shift_mm,
                                 rest_valve_shift_mm=rest_valve_shift_mm,
                                 stress_wall_offsets_mm=stress_wall_offsets_mm,
                                 rest_wall_offsets_mm=rest_wall_offsets_mm)  # fmt: skip
    rows: dict[tuple[str, str], SliceRow] = {}
    pairs = zip(STATES, (stress, rest), (analysis.stress, analysis.rest), strict=True)
    sets = [(s, v, a) for s, v, a in pairs if v is not None and a is not None]
    for k, (state, volume, result) in enumerate(sets):
        report(f"reslicing the {state} set", 0.8 + 0.2 * k / len(sets))
        for view in VIEWS:
            rows[(state, view)] = slice_row(volume, result.segmentation, view)
    report("done", 1.0)
    return DisplayData(study=analysis, rows=rows)
