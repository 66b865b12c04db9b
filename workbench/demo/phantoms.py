"""Digital phantoms: label images of a chest and a head, slice by slice.

Coordinates are normalised so that a phantom fills the field of view whatever the
matrix size: ``u`` runs left to right across the image (patient right to left for an
axial slice), ``v`` top to bottom (anterior to posterior), both about -1..1 along the
shorter image side. A phantom is asked for the label image at a relative position
``t`` in 0..1 along the scan (0 = first, most cranial slice); the label images are
cached by quantised anatomy so that neighbouring slices reuse them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from workbench.demo._noise import NoiseBank
from workbench.demo._seed import seeded_rng

__all__ = ["CHEST_LABELS", "HEAD_LABELS", "Grid", "NoiseBank", "chest_labels", "head_labels"]

F32 = npt.NDArray[np.float32]
Labels = npt.NDArray[np.uint8]
Mask = npt.NDArray[np.bool_]

CHEST_LABELS = (
    "air",
    "fat",
    "soft",
    "lung",
    "lung_vessel",
    "myocardium",
    "blood",
    "cortical_bone",
    "marrow",
    "liver",
    "table",
    "rib",
)
"""Label names of :func:`chest_labels`, in label-value order."""

HEAD_LABELS = (
    "air",
    "scalp",
    "skull",
    "csf",
    "gray",
    "white",
    "ventricle",
    "eye",
    "diploe",
    "orbital_fat",
)
"""Label names of :func:`head_labels`, in label-value order."""

_C = {name: np.uint8(i) for i, name in enumerate(CHEST_LABELS)}
_H = {name: np.uint8(i) for i, name in enumerate(HEAD_LABELS)}
_STEPS = 24  # quantisation of the slice-dependent anatomy


def ellipse_form(du: F32, dv: F32, a: float, b: float, angle: float = 0.0) -> F32:
    """Return the quadratic form of an ellipse at offsets `du`, `dv` from its centre.

    Semi-axes `a`, `b`, rotated by `angle` (rad); the form is at most 1 inside.
    """
    if angle:
        c, s = np.float32(math.cos(angle)), np.float32(math.sin(angle))
        du, dv = c * du + s * dv, c * dv - s * du
    q: F32 = np.square(du / np.float32(a)) + np.square(dv / np.float32(b))
    return q


class Grid:
    """Normalised pixel coordinates of a ``rows x columns`` image.

    Parameters
    ----------
    rows, columns
        Matrix size.
    """

    def __init__(self, rows: int, columns: int) -> None:
        half = min(rows, columns) / 2.0
        self.shape = (rows, columns)
        self.u = ((np.arange(columns, dtype=np.float32) - (columns - 1) / 2) / half)[None, :]
        self.v = ((np.arange(rows, dtype=np.float32) - (rows - 1) / 2) / half)[:, None]
        self._angle: npt.NDArray[np.float32] | None = None

    @property
    def angle(self) -> npt.NDArray[np.float32]:
        """Polar angle of every pixel about the image centre (computed once)."""
        if self._angle is None:
            self._angle = np.arctan2(self.v, self.u).astype(np.float32)
        return self._angle

    def ellipse(self, cx: float, cy: float, a: float, b: float, angle: float = 0.0) -> Mask:
        """Return the pixels inside an ellipse (centre, semi-axes, rotation in rad)."""
        mask = np.zeros(self.shape, dtype=bool)
        window = self._window(cx, cy, a, b, angle)
        if window is not None:
            mask[window] = self._inside(window, cx, cy, a, b, angle)
        return mask

    def paint(
        self,
        labels: Labels,
        value: np.uint8,
        ellipse: tuple[float, float, float, float] | tuple[float, float, float, float, float],
        *,
        only: tuple[np.uint8, ...] = (),
        within: Mask | None = None,
    ) -> None:
        """Set `value` inside ``ellipse = (cx, cy, a, b[, angle])``, in place.

        Only the ellipse's bounding box is computed, which keeps small structures cheap.
        With `only`, pixels of other labels are left alone; with `within`, pixels outside
        that mask are.
        """
        cx, cy, a, b = ellipse[:4]
        angle = ellipse[4] if len(ellipse) == 5 else 0.0
        window = self._window(cx, cy, a, b, angle)
        if window is None:
            return
        mask = self._inside(window, cx, cy, a, b, angle)
        sub = labels[window]
        if only:
            allowed = sub == only[0]
            for other in only[1:]:
                allowed |= sub == other
            mask &= allowed
        if within is not None:
            mask &= within[window]
        sub[mask] = value

    def columns_near(self, cx: float, half_width: float) -> slice:
        """Return the columns whose ``u`` lies within `half_width` of `cx`."""
        rows, columns = self.shape
        half = min(rows, columns) / 2.0
        c0 = math.ceil((cx - half_width) * half + (columns - 1) / 2)
        c1 = math.floor((cx + half_width) * half + (columns - 1) / 2) + 1
        return slice(min(max(c0, 0), columns), min(max(c1, 0), columns))

    def _window(
        self, cx: float, cy: float, a: float, b: float, angle: float
    ) -> tuple[slice, slice] | None:
        if a <= 0 or b <= 0:
            return None
        rows, columns = self.shape
        half = min(rows, columns) / 2.0
        ra, rb = (max(a, b), max(a, b)) if angle else (a, b)
        c0 = max(math.floor((cx - ra) * half + (columns - 1) / 2), 0)
        c1 = min(math.ceil((cx + ra) * half + (columns - 1) / 2) + 1, columns)
        r0 = max(math.floor((cy - rb) * half + (rows - 1) / 2), 0)
        r1 = min(math.ceil((cy + rb) * half + (rows - 1) / 2) + 1, rows)
        if c0 >= c1 or r0 >= r1:
            return None
        return slice(r0, r1), slice(c0, c1)

    def _inside(
        self, window: tuple[slice, slice], cx: float, cy: float, a: float, b: float, angle: float
    ) -> Mask:
        du = self.u[:, window[1]] - np.float32(cx)
        dv = self.v[window[0], :] - np.float32(cy)
        inside: Mask = ellipse_form(du, dv, a, b, angle) <= 1.0
        return inside


def _q(value: float) -> int:
    return round(min(max(value, 0.0), 1.0) * _STEPS)


class _Cache:
    """Keeps the label image of the last few anatomy keys."""

    def __init__(self, size: int = 4) -> None:
        self.size = size
        self.items: dict[tuple[int, ...], Labels] = {}

    def fetch(self, key: tuple[int, ...], draw: Callable[[tuple[int, ...]], Labels]) -> Labels:
        """Return the labels of `key`, drawing them unless kept."""
        labels = self.items.get(key)
        if labels is None:
            if len(self.items) >= self.size:
                self.items.pop(next(iter(self.items)))
            labels = self.items[key] = draw(key)
        return labels


class ChestPhantom:
    """Axial chest: body with fat layer, lungs with vessels, heart, aorta, spine, ribs,
    sternum, liver towards the base and a patient table.

    Parameters
    ----------
    grid
        The image grid.
    rng
        Source of the per-series variation (lung vessels, small shifts).
    """

    def __init__(self, grid: Grid, rng: np.random.Generator) -> None:
        self.grid = grid
        self.jitter = rng.uniform(-0.03, 0.03, size=4)
        self.cache = _Cache()
        self.dots = np.zeros(grid.shape, dtype=bool)
        for _ in range(70):
            cx = float(rng.uniform(0.12, 0.66)) * (1 if rng.random() < 0.5 else -1)
            cy = float(rng.uniform(-0.4, 0.35))
            r = float(rng.uniform(0.008, 0.022))
            self.dots |= grid.ellipse(cx, cy, r, r)
        g = grid
        table = (g.v >= 0.74 + 0.06 * g.u**2) & (g.v <= 0.78 + 0.06 * g.u**2) & (abs(g.u) < 0.85)
        self.table = np.flatnonzero(table)
        self.spokes = (np.cos(g.angle * 14.0) > 0.55) & (np.abs(np.sin(g.angle)) < 0.93)
        self.ribs: dict[int, npt.NDArray[np.intp]] = {}

    def labels(self, t: float) -> Labels:
        """Return the label image at relative scan position `t` (0 cranial, 1 caudal)."""
        lung = math.sqrt(max(0.0, 1.0 - ((t - 0.42) / 0.55) ** 2))
        heart = math.sqrt(max(0.0, 1.0 - ((t - 0.55) / 0.28) ** 2))
        liver = (t - 0.6) / 0.3
        body = 0.5 * (1.0 + math.cos(math.pi * t))
        ribs = int((t * 11.0) % 1.0 < 0.45)
        sternum = int(0.2 < t < 0.7)
        key = (_q(lung), _q(heart), _q(liver), _q(body), ribs, sternum)
        return self.cache.fetch(key, self._draw)

    def _rib_pixels(self, body_q: int, a: float, b: float, cy: float) -> npt.NDArray[np.intp]:
        if body_q not in self.ribs:
            g, x = self.grid, float(self.jitter[0])
            ring = g.ellipse(x, cy, a - 0.045, b - 0.035) & ~g.ellipse(x, cy, a - 0.1, b - 0.085)
            self.ribs[body_q] = np.flatnonzero(ring & self.spokes)
        return self.ribs[body_q]

    def _draw(self, key: tuple[int, ...]) -> Labels:
        g, j, c = self.grid, [float(x) for x in self.jitter], _C
        lung, heart, liver, body_q, ribs, sternum = key
        scale = 0.96 + 0.08 * body_q / _STEPS
        lab = np.zeros(g.shape, dtype=np.uint8)
        flat = lab.reshape(-1)
        a, b, cy = 0.88 * scale, 0.62 * scale, 0.05
        g.paint(lab, c["fat"], (j[0], cy, a, b))
        g.paint(lab, c["soft"], (j[0], cy, a - 0.06, b - 0.05))
        flat[self.table[flat[self.table] == 0]] = c["table"]
        if liver:
            f = liver / _STEPS
            g.paint(lab, c["liver"], (-0.30, 0.02, 0.5 * f, 0.45 * f), only=(c["soft"],))
        if lung:
            f = lung / _STEPS
            for shape in (
                (-0.38 + j[1], -0.02, 0.31 * f, 0.43 * f, 0.12),
                (0.40 + j[2], -0.02, 0.29 * f, 0.42 * f, -0.12),
            ):
                g.paint(lab, c["lung"], shape, only=(c["soft"], c["liver"]))
                g.paint(lab, c["lung_vessel"], shape, only=(c["lung"],), within=self.dots)
        if heart:
            f = heart / _STEPS
            g.paint(lab, c["myocardium"], (0.10, -0.14, 0.27 * f, 0.22 * f, 0.5))
            g.paint(lab, c["blood"], (0.10, -0.14, 0.17 * f, 0.13 * f, 0.5))
        g.paint(lab, c["blood"], (0.13, 0.25, 0.055, 0.055))  # descending aorta
        # vertebra: body, posterior arch, canal
        g.paint(lab, c["cortical_bone"], (0.0, 0.43, 0.085, 0.11))
        g.paint(lab, c["cortical_bone"], (0.0, 0.56, 0.11, 0.075))
        g.paint(lab, c["cortical_bone"], (0.0, 0.40, 0.11, 0.09))
        g.paint(lab, c["marrow"], (0.0, 0.40, 0.09, 0.072))
        g.paint(lab, c["soft"], (0.0, 0.545, 0.045, 0.04))
        if sternum:
            g.paint(lab, c["cortical_bone"], (0.0, -0.51 * scale + 0.05, 0.07, 0.028))
        if ribs:
            flat[self._rib_pixels(body_q, a, b, cy)] = c["rib"]
        return lab


class HeadPhantom:
    """Axial head: scalp, skull with diploe, CSF rim, grey and white matter, lateral
    ventricles, falx, and the orbits towards the skull base.

    Parameters
    ----------
    grid
        The image grid.
    rng
        Source of the per-series variation.
    """

    def __init__(self, grid: Grid, rng: np.random.Generator) -> None:
        self.grid = grid
        self.jitter = rng.uniform(-0.02, 0.02, size=3)
        self.cache = _Cache()

    def labels(self, t: float) -> Labels:
        """Return the label image at relative scan position `t` (0 vertex, 1 skull base)."""
        s = 0.92 - 1.35 * t
        size = math.sqrt(max(0.0, 1.0 - s * s))
        vent = math.sqrt(max(0.0, 1.0 - ((s - 0.2) / 0.22) ** 2))
        eyes = math.sqrt(max(0.0, 1.0 - ((s + 0.3) / 0.14) ** 2))
        key = (_q(size), _q(vent), _q(eyes))
        return self.cache.fetch(key, self._draw)

    def _draw(self, key: tuple[int, ...]) -> Labels:
        g, h = self.grid, _H
        size, vent, eyes = (k / _STEPS for k in key)
        lab = np.zeros(g.shape, dtype=np.uint8)
        a, b = 0.72 * max(size, 0.05), 0.9 * max(size, 0.05)
        cx, cy = float(self.jitter[0]), 0.02 + float(self.jitter[1])
        for inset, label in (
            (0.0, "scalp"),
            (0.04, "skull"),
            (0.06, "diploe"),
            (0.075, "skull"),
            (0.09, "csf"),
            (0.105, "gray"),
        ):
            g.paint(lab, h[label], (cx, cy, a - inset, b - inset))
        g.paint(lab, h["white"], (cx, cy + 0.02, 0.78 * (a - 0.105), 0.8 * (b - 0.105)))
        band = lab[
            : max(0, min(g.shape[0], int(np.searchsorted(g.v[:, 0], cy + 0.1 * b)))),
            g.columns_near(cx, 0.012),
        ]
        band[(band == h["gray"]) | (band == h["white"])] = h["csf"]  # falx
        if vent:
            g.paint(lab, h["ventricle"], (cx - 0.09, cy, 0.05 * vent, 0.26 * vent, -0.12))
            g.paint(lab, h["ventricle"], (cx + 0.09, cy, 0.05 * vent, 0.26 * vent, 0.12))
        if eyes:
            for side in (-1.0, 1.0):
                ex = cx + side * 0.3
                g.paint(lab, h["orbital_fat"], (ex, -0.62, 0.19 * eyes, 0.16 * eyes))
                g.paint(lab, h["eye"], (ex, -0.66, 0.12 * eyes, 0.12 * eyes))
        return lab


def chest_labels(rows: int, columns: int, t: float, seed: int = 0) -> Labels:
    """Return one chest label image (convenience wrapper of :class:`ChestPhantom`)."""
    return ChestPhantom(Grid(rows, columns), seeded_rng(seed)).labels(t).copy()


def head_labels(rows: int, columns: int, t: float, seed: int = 0) -> Labels:
    """Return one head label image (convenience wrapper of :class:`HeadPhantom`)."""
    return HeadPhantom(Grid(rows, columns), seeded_rng(seed)).labels(t).copy()
