"""Pixel rendering of the cine phantoms: an apical echo sector and a coronary angiogram."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from workbench.demo._base import check_image
from workbench.demo._noise import FieldBank
from workbench.demo.phantoms import ellipse_form
from workbench.demo.waveform import ecg_signals

F32 = npt.NDArray[np.float32]
U8 = npt.NDArray[np.uint8]


def systole(time_s: float, heart_rate: float) -> float:
    """Contraction 0..1 at `time_s`: a half-sine during the first 35 % of each beat."""
    phase = (time_s * heart_rate / 60.0) % 1.0
    return math.sin(math.pi * phase / 0.35) if phase < 0.35 else 0.0


@dataclass(frozen=True)
class Loop:
    """Size and timing of a cine loop of a beating heart; checks its size.

    Parameters
    ----------
    n_frames, rows, columns
        At most 10000 frames of at least 16 x 16 pixels.
    frame_rate, heart_rate
        Frames per second and beats per minute.
    """

    n_frames: int
    rows: int
    columns: int
    frame_rate: float
    heart_rate: float

    def __post_init__(self) -> None:
        check_image("NumberOfFrames", self.n_frames, 10000, self.rows, self.columns, 16)

    @property
    def frame_time_ms(self) -> float:
        """Milliseconds from one frame to the next."""
        return 1000.0 / self.frame_rate

    def contraction(self, frame: int) -> float:
        """Return :func:`systole` at the time of `frame`."""
        return systole(frame * self.frame_time_ms / 1000.0, self.heart_rate)

    def pixel_grid(self) -> tuple[F32, F32]:
        """Return the row and column index of every pixel, float32."""
        y, x = np.mgrid[0 : self.rows, 0 : self.columns].astype(np.float32)
        return y, x


@dataclass(frozen=True)
class Sector:
    """Geometry of an echo sector in pixels: apex, radius and half opening angle (rad)."""

    apex_x: float
    apex_y: float
    radius: float
    half_angle: float

    @property
    def bounds(self) -> tuple[int, int, int, int]:
        """Bounding box ``(x0, y0, x1, y1)`` of the sector, inclusive."""
        half_width = self.radius * math.sin(self.half_angle)
        return (
            max(0, math.floor(self.apex_x - half_width)),
            max(0, math.floor(self.apex_y)),
            math.ceil(self.apex_x + half_width),
            math.ceil(self.apex_y + self.radius),
        )


def _ellipse(x: F32, y: F32, cx: float, cy: float, a: float, b: float, rot: float) -> F32:
    return ellipse_form(x - np.float32(cx), y - np.float32(cy), a, b, rot)


def render_echo(loop: Loop, rng: np.random.Generator) -> tuple[U8, Sector]:
    """Render an apical four-chamber-like echo cine, RGB.

    Returns
    -------
    frames : numpy.ndarray
        ``(n_frames, rows, columns, 3)`` uint8; grey sector, green ECG trace, yellow
        depth marks.
    sector : Sector
        The sector geometry, for the ultrasound region calibration.
    """
    n_frames, rows, columns = loop.n_frames, loop.rows, loop.columns
    radius = 0.8 * rows
    half_angle = min(math.radians(40.0), math.asin(min(1.0, 0.47 * columns / radius)))
    sector = Sector(columns / 2.0, 0.05 * rows, radius, half_angle)
    y, x = loop.pixel_grid()
    # normalised sector coordinates: depth 0..1, lateral in radii
    sx = (x - np.float32(sector.apex_x)) / np.float32(radius)
    sy = (y - np.float32(sector.apex_y)) / np.float32(radius)
    depth = np.hypot(sx, sy)
    inside = (depth <= 1.0) & (np.abs(np.arctan2(sx, sy)) <= half_angle) & (depth > 0.02)
    gain = (1.0 - 0.45 * depth).astype(np.float32)
    speckle = rng.rayleigh(0.8, size=(4, rows + 16, columns + 16)).astype(np.float32)
    speckle = (speckle + np.roll(speckle, 1, axis=2) + np.roll(speckle, 2, axis=2)) / np.float32(3)
    speckles = FieldBank(speckle, (rows, columns))
    trace_uv = ecg_signals(max(columns, 2), columns / 2.5, rng, heart_rate=loop.heart_rate)[:, 1]
    strip_top, strip_h = int(0.86 * rows), max(int(0.1 * rows), 2)
    trace_y = np.clip(strip_top + strip_h * (0.7 - trace_uv / 2500.0), 0, rows - 1).astype(int)
    frames = np.zeros((n_frames, rows, columns, 3), dtype=np.uint8)
    cols = np.arange(columns)
    x_mark = min(columns - 1, int(sector.apex_x + radius * math.sin(half_angle)) + 4)
    for f in range(n_frames):
        c = loop.contraction(f)
        lv = _ellipse(sx, sy, 0.1, 0.46, 0.13 * (1 - 0.2 * c), 0.28 * (1 - 0.1 * c), -0.15)
        rv = _ellipse(sx, sy, -0.17, 0.48, 0.085 * (1 - 0.15 * c), 0.22 * (1 - 0.08 * c), 0.2)
        la = _ellipse(sx, sy, 0.09, 0.84, 0.11 * (1 + 0.1 * c), 0.09 * (1 + 0.1 * c), 0.0)
        ra = _ellipse(sx, sy, -0.15, 0.84, 0.09 * (1 + 0.1 * c), 0.085 * (1 + 0.1 * c), 0.0)
        heart = _ellipse(sx, sy, -0.02, 0.6, 0.36 * (1 - 0.05 * c), 0.47 * (1 - 0.04 * c), 0.0)
        tissue = np.where(heart <= 1.0, np.float32(0.62), np.float32(0.28))
        tissue[(heart > 0.86) & (heart <= 1.0)] = 1.0  # pericardium
        blood = (lv <= 1.0) | (rv <= 1.0) | (la <= 1.0) | (ra <= 1.0)
        tissue[blood] = 0.05
        image = tissue * gain * speckles.frame(f, rng) * 255.0
        gray = np.where(inside, np.clip(image, 0, 255), 0).astype(np.uint8)
        frame = frames[f]
        frame[...] = gray[..., None]
        frame[trace_y, cols] = (40, 220, 60)
        cursor = int(f * columns / max(n_frames, 1))
        frame[strip_top : strip_top + strip_h, cursor] = (240, 240, 240)
        for cm in range(1, 20):
            mark = int(sector.apex_y + radius * cm / 16.0)
            if mark < strip_top:
                frame[mark, max(0, x_mark - 3) : x_mark + 1] = (230, 200, 40)
    return frames, sector


def _bezier(points: npt.NDArray[np.float64], n: int) -> npt.NDArray[np.float64]:
    t = np.linspace(0.0, 1.0, n)[:, None]
    p0, p1, p2, p3 = points
    out: npt.NDArray[np.float64] = (
        (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3
    )
    return out


Disk = tuple[float, float, float, float]


def _vessel_tree(rng: np.random.Generator, size: float) -> tuple[list[Disk], list[Disk]]:
    """Return disks ``(x, y, radius, arrival)`` along a random left-coronary-like tree,
    and along the guiding catheter that leads to its ostium.
    """
    disks: list[Disk] = []

    def vessel(
        ctrl: npt.NDArray[np.float64], r0: float, r1: float, s0: float, out: list[Disk]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        pts = _bezier(ctrl * size, 400)
        seg = np.r_[0.0, np.cumsum(np.hypot(*np.diff(pts, axis=0).T))]
        step = max(min(r0, r1) * 0.6, 0.5)
        for s in np.arange(0.0, seg[-1], step):
            i = min(int(np.searchsorted(seg, s)), len(pts) - 1)
            frac = s / max(seg[-1], 1e-6)
            out.append((pts[i, 0], pts[i, 1], r0 + (r1 - r0) * frac, s0 + s))
        return pts, seg + s0

    def jitter(x: float, y: float) -> npt.NDArray[np.float64]:
        return np.array([x, y]) + rng.normal(0.0, 0.02, size=2)

    big, small = 0.011 * size, 0.005 * size
    ostium = jitter(0.3, 0.16)
    trunk = np.array([ostium, jitter(0.42, 0.3), jitter(0.5, 0.62), jitter(0.6, 0.86)])
    pts, seg = vessel(trunk, big, small * 0.8, 0.0, disks)
    for k, frac in enumerate((0.25, 0.45, 0.65)):
        i = round(frac * (len(pts) - 1))
        start = pts[i] / size
        side = 1.0 if k % 2 else -1.0
        heading = np.array([side * 0.16, 0.12]) + rng.normal(0, 0.03, size=2)
        ctrl = np.array(
            [
                start,
                start + heading * 0.4,
                start + heading * 0.8 + [0, 0.05],
                start + heading * 1.3 + [0, 0.08],
            ]
        )
        vessel(ctrl, big * 0.6, small * 0.6, float(seg[i]), disks)
    circumflex = np.array([ostium, jitter(0.2, 0.3), jitter(0.18, 0.5), jitter(0.26, 0.72)])
    vessel(circumflex, big * 0.8, small * 0.7, 0.0, disks)
    catheter: list[Disk] = []
    path = np.array([ostium, ostium + [0.15, -0.08], [0.72, 0.3], [0.74, 1.05]])
    vessel(path, 0.004 * size, 0.004 * size, 0.0, catheter)
    return disks, catheter


def _stamp(disks: list[Disk], rows: int, columns: int) -> tuple[F32, F32]:
    """Return the projected thickness (0..1) and the arrival path length of `disks`."""
    opacity = np.zeros((rows, columns), dtype=np.float32)
    arrival = np.full((rows, columns), np.inf, dtype=np.float32)
    for x, y, radius, s in disks:
        r = max(radius, 0.6)
        x0, x1 = max(int(x - r) - 1, 0), min(int(x + r) + 2, columns)
        y0, y1 = max(int(y - r) - 1, 0), min(int(y + r) + 2, rows)
        if x0 >= x1 or y0 >= y1:
            continue
        yy, xx = np.ogrid[y0:y1, x0:x1]
        d2 = ((xx - x) ** 2 + (yy - y) ** 2) / (r * r)
        depth = np.sqrt(np.clip(1.0 - d2, 0.0, 1.0)) * min(1.0, r / 3.0 + 0.5)
        window = opacity[y0:y1, x0:x1]
        np.maximum(window, depth.astype(np.float32), out=window)
        reach = arrival[y0:y1, x0:x1]
        np.minimum(reach, np.where(d2 <= 1.0, np.float32(s), np.float32(np.inf)), out=reach)
    return opacity, arrival


def render_angio(loop: Loop, rng: np.random.Generator) -> tuple[U8, float]:
    """Render a left coronary angiogram run, MONOCHROME2 (vessels dark).

    Contrast arrives at the ostium after a few frames, fills the tree along its length and
    washes out at the end; the tree swings with the heart beat.

    Returns
    -------
    frames : numpy.ndarray
        ``(n_frames, rows, columns)`` uint8.
    radius : float
        Radius in pixels of the circular field of view (the shutter).
    """
    n_frames, rows, columns = loop.n_frames, loop.rows, loop.columns
    size = float(min(rows, columns))
    tree, catheter_disks = _vessel_tree(rng, size)
    opacity, arrival = _stamp(tree, rows, columns)
    catheter, _ = _stamp(catheter_disks, rows, columns)
    finite = arrival[np.isfinite(arrival)]
    longest = float(finite.max()) if finite.size else 1.0
    y, x = loop.pixel_grid()
    u, v = (x - columns / 2) / np.float32(size), (y - rows / 2) / np.float32(size)
    background = 175.0 + 30.0 * u - 15.0 * v
    background -= 28.0 * np.exp(-(((u - 0.05) / 0.07) ** 2))  # spine
    background -= 45.0 * (((u - 0.25) / 0.4) ** 2 + ((v - 0.55) / 0.25) ** 2 <= 1.0)  # diaphragm
    fov_radius = 0.49 * size
    fov = (u * size) ** 2 + (v * size) ** 2 <= fov_radius**2
    noise = FieldBank(
        rng.normal(0.0, 3.5, size=(3, rows + 8, columns + 8)).astype(np.float32), (rows, columns)
    )
    frames = np.zeros((n_frames, rows, columns), dtype=np.uint8)
    amplitude = 0.025 * size
    for f in range(n_frames):
        c = loop.contraction(f)
        shift_x, shift_y = round(amplitude * c), round(-0.6 * amplitude * c)
        front = longest * min(1.05, max(0.0, (f - 0.1 * n_frames) / (0.35 * n_frames)))
        washout = 1.0 - 0.6 * min(1.0, max(0.0, (f - 0.75 * n_frames) / (0.25 * n_frames)))
        filled = np.where(arrival < front, opacity, np.float32(0.0)) * np.float32(washout)
        filled = np.roll(np.maximum(filled, 0.5 * catheter), (shift_y, shift_x), axis=(0, 1))
        image = background * (1.0 - 0.62 * filled) + noise.frame(f, rng)
        frames[f] = np.where(fov, np.clip(image, 0, 255), 0).astype(np.uint8)
    return frames, fov_radius
