"""Finding the left ventricle and its long axis, and reslicing along it.

Automatic detection, on the ungated (summed) volume:

1. **Centre**: the maximum of the volume filtered with hollow-sphere kernels (a shell of
   radius 18, 25 or 32 mm minus its interior), which answers a cup of tracer and not a
   solid organ such as the liver.
2. **First axis**: from that centre, rays in 600 directions; the 8 % of directions with
   the lowest count maximum are the opening of the cup (the valve plane; perfusion
   defects keep more counts than that); the long axis points away from their mean.
   The centre is first moved, three times, to the centroid of the wall points it sees.
3. **Refinement**: the axis (two angles) and its offset (two mm) that make the wall points
   (the ray maxima) most rotationally symmetric, i.e. whose radius from the axis is best
   explained by a cubic in the axial position (Nelder-Mead from the first axis); kept
   only within 25 degrees of the first axis (a near-spherical LV has no clear symmetry).

A :class:`LongAxis` given by the reader (manual override) replaces all of this.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import xarray as xr
from scipy import ndimage as ndi
from scipy.optimize import minimize
from scipy.signal import fftconvolve

from workbench.spect.lvframe import LvFrame, angles_from_axis, axis_from_angles
from workbench.spect.volume import affine_of, patient_points, spacing_of, summed, voxel_indices

__all__ = [
    "LongAxis", "estimate_long_axis", "find_lv_centre", "refine_long_axis", "shifted",
    "sphere_directions", "tilted",
]  # fmt: skip

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LongAxis:
    """The LV long axis in patient space.

    Attributes
    ----------
    origin
        LPS mm of a point on the axis inside the cavity (the LV centre).
    axis
        Unit vector from base to apex (normalised on construction).
    """

    origin: tuple[float, float, float]
    axis: tuple[float, float, float]

    def __post_init__(self) -> None:
        a = np.asarray(self.axis, np.float64)
        n = float(np.linalg.norm(a))
        if not n > 0:
            raise ValueError("LongAxis.axis must be a non-zero vector")
        object.__setattr__(self, "axis", tuple(float(v) for v in a / n))
        object.__setattr__(self, "origin", tuple(float(v) for v in self.origin))

    @property
    def frame(self) -> LvFrame:
        """The :class:`~workbench.spect.lvframe.LvFrame` at :attr:`origin`."""
        return LvFrame(self.origin, self.axis)


def sphere_directions(n: int) -> F64:
    """Return `n` unit vectors spread evenly over the sphere (Fibonacci lattice), ``(n, 3)``."""
    i = np.arange(n) + 0.5
    polar = np.arccos(1 - 2 * i / n)
    azimuth = np.pi * (1 + 5**0.5) * i
    return np.stack([np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar),
                     np.cos(polar)], axis=-1)  # fmt: skip


def find_lv_centre(volume: xr.DataArray) -> tuple[float, float, float]:
    """Return the LPS mm centre of the brightest cup-shaped structure (see module docstring).

    Parameters
    ----------
    volume
        ``([gate,] z, y, x)`` counts; gated volumes are summed first.
    """
    return _shell_search(summed(volume))[0]


def _shell_search(data: xr.DataArray) -> tuple[tuple[float, float, float], float]:
    """Centre (LPS mm) and radius (mm) of the best-matching hollow-sphere kernel."""
    values = ndi.gaussian_filter(np.asarray(data.values, np.float64), 1.0)
    values = values / max(float(np.percentile(values, 99.9)), 1e-9)
    dz, dy, dx = spacing_of(data)
    best: tuple[float, tuple[int, ...], float] | None = None
    for radius in (18.0, 25.0, 32.0):
        half = [int(np.ceil((radius + 8) / d)) for d in (dz, dy, dx)]
        zz, yy, xx = np.meshgrid(*[np.arange(-h, h + 1) * d for h, d in zip(half, (dz, dy, dx),
                                                                        strict=True)],
                                 indexing="ij")  # fmt: skip
        r = np.sqrt(zz**2 + yy**2 + xx**2)
        shell = np.abs(r - radius) < 5.0
        inside = r < radius - 8.0
        kernel = shell / shell.sum() - (inside / max(int(inside.sum()), 1))
        response = fftconvolve(values, kernel[::-1, ::-1, ::-1], mode="same")
        k = np.unravel_index(int(np.argmax(response)), response.shape)
        if best is None or float(response[k]) > best[0]:
            best = (float(response[k]), tuple(int(i) for i in k), radius)
    assert best is not None
    centre = patient_points(affine_of(data), np.asarray(best[1], np.float64))
    return (float(centre[0]), float(centre[1]), float(centre[2])), best[2]


def _ray_maxima(values: F64, affine: F64, centre: F64, dirs: F64,
                reach: float) -> tuple[F64, F64]:  # fmt: skip
    """Distance (mm) and value of the maximum along rays from `centre` (cubic
    interpolation, parabola through the top three samples)."""
    t = np.arange(2.0, reach, 1.0)
    pts = centre + dirs[:, None, :] * t[None, :, None]
    idx = voxel_indices(affine, pts).reshape(-1, 3).T
    prof = ndi.map_coordinates(values, idx, order=3, mode="nearest").reshape(len(dirs), len(t))
    rows = np.arange(len(dirs))
    k = np.clip(np.argmax(prof, axis=1), 1, len(t) - 2)
    y0, y1, y2 = prof[rows, k - 1], prof[rows, k], prof[rows, k + 1]
    denom = y0 - 2 * y1 + y2
    off = np.clip(np.where(denom < 0, 0.5 * (y0 - y2) / np.where(denom < 0, denom, -1.0), 0.0),
                  -0.5, 0.5)  # fmt: skip
    return t[k] + off, y1 - 0.25 * (y0 - y2) * off


def _symmetry_cost(params: F64, points: F64, weights: F64, centre: F64) -> float:
    azimuth, elevation, off_u, off_v = params
    a = np.asarray(axis_from_angles(float(azimuth), float(elevation)))
    u = np.cross(a, [0.3, 0.5, 0.8])
    u /= np.linalg.norm(u)
    v = np.cross(a, u)
    d = points - (centre + off_u * u + off_v * v)
    s = d @ a
    r = np.sqrt(np.clip((d**2).sum(axis=1) - s**2, 0.0, None))
    design = np.vander(s / 50.0, 4)
    coef, *_ = np.linalg.lstsq(design * weights[:, None], r * weights, rcond=None)
    return float(np.sum(weights * (design @ coef - r) ** 2) / weights.sum())


def estimate_long_axis(volume: xr.DataArray,
                       centre: tuple[float, float, float] | None = None) -> LongAxis:  # fmt: skip
    """Detect the LV long axis automatically (see module docstring).

    Parameters
    ----------
    volume
        ``([gate,] z, y, x)`` counts with an affine; gated volumes are summed.
    centre
        LPS mm of a point inside the LV cavity; None: :func:`find_lv_centre`.

    Returns
    -------
    LongAxis
        Origin on the refined axis, level with the starting centre; axis base to apex.
    """
    data = summed(volume)
    affine = affine_of(data)
    found, radius = _shell_search(data)
    c = np.asarray(centre if centre is not None else found, np.float64)
    values = ndi.gaussian_filter(np.asarray(data.values, np.float64), 0.7)
    dirs = sphere_directions(600)
    reach = 2.0 * radius + 20.0
    for _ in range(3):  # move the centre to the middle of the wall it sees
        dist, peak = _ray_maxima(values, affine, c, dirs, reach)
        reference = float(np.percentile(peak, 90))
        wall = peak > 0.3 * reference
        c = np.mean(c + dirs[wall] * dist[wall][:, None], axis=0)
    dist, peak = _ray_maxima(values, affine, c, dirs, reach)
    reference = float(np.percentile(peak, 90))
    # the opening of the cup (about a tenth of all directions) has the fewest counts;
    # perfusion defects keep more
    opening = peak <= np.percentile(peak, 8)
    base = dirs[opening].sum(axis=0)
    first = -base / max(float(np.linalg.norm(base)), 1e-9)
    wall = peak > 0.3 * reference
    points = c + dirs[wall] * dist[wall][:, None]
    weights = np.ones(int(wall.sum()))
    azimuth, elevation = angles_from_axis(first)
    fit = minimize(_symmetry_cost, np.array([azimuth, elevation, 0.0, 0.0]),
                   args=(points, weights, c), method="Nelder-Mead",
                   options={"xatol": 0.05, "fatol": 1e-7, "maxiter": 800})  # fmt: skip
    a = np.asarray(axis_from_angles(float(fit.x[0]), float(fit.x[1])))
    if a @ first < 0:
        a = -a
    if a @ first < np.cos(np.radians(25.0)):  # symmetry is ambiguous (a sphere): keep the cup's
        a, fit.x[2:] = first, 0.0
    u = np.cross(a, [0.3, 0.5, 0.8])
    u /= np.linalg.norm(u)
    v = np.cross(a, u)
    origin = c + fit.x[2] * u + fit.x[3] * v
    return LongAxis((float(origin[0]), float(origin[1]), float(origin[2])),
                    (float(a[0]), float(a[1]), float(a[2])))  # fmt: skip


def refine_long_axis(points: npt.ArrayLike, axis: LongAxis) -> LongAxis:
    """Refit the axis of rotational symmetry to wall points (LPS mm, ``(n, 3)``).

    Used with the smooth mid-wall surface of the summed volume, which locates the wall
    better than the ray maxima of :func:`estimate_long_axis`; the search starts from
    `axis` and keeps its direction sense and origin level.
    """
    p = np.asarray(points, np.float64).reshape(-1, 3)
    c = np.asarray(axis.origin, np.float64)
    azimuth, elevation = angles_from_axis(axis.axis)
    fit = minimize(_symmetry_cost, np.array([azimuth, elevation, 0.0, 0.0]),
                   args=(p, np.ones(len(p)), c), method="Nelder-Mead",
                   options={"xatol": 0.02, "fatol": 1e-8, "maxiter": 800})  # fmt: skip
    a = np.asarray(axis_from_angles(float(fit.x[0]), float(fit.x[1])))
    if a @ np.asarray(axis.axis) < np.cos(np.radians(20.0)):
        return axis
    u = np.cross(a, [0.3, 0.5, 0.8])
    u /= np.linalg.norm(u)
    v = np.cross(a, u)
    origin = c + fit.x[2] * u + fit.x[3] * v
    return LongAxis((float(origin[0]), float(origin[1]), float(origin[2])),
                    (float(a[0]), float(a[1]), float(a[2])))  # fmt: skip


def tilted(axis: LongAxis, anterior_deg: float = 0.0, septal_deg: float = 0.0) -> LongAxis:
    """The long axis with its apical end tilted (the reader's manual correction).

    Parameters
    ----------
    axis
        The axis to correct; its origin is kept.
    anterior_deg, septal_deg
        Rotation of the base-to-apex direction towards the anterior, then the septal
        direction of `axis`'s frame (:mod:`workbench.spect.lvframe`), in degrees; negative
        values tilt towards inferior and lateral.

    Examples
    --------
    >>> from workbench.spect.lvframe import angle_between
    >>> base = LongAxis((0.0, 0.0, 0.0), (1.0, 0.0, 0.0))
    >>> round(angle_between(tilted(base, 10.0).axis, base.axis), 6)
    10.0
    """
    frame = axis.frame
    a, ant, sep = (np.asarray(v, np.float64) for v in (frame.axis, frame.anterior, frame.septal))
    p, q = np.radians(anterior_deg), np.radians(septal_deg)
    first = np.cos(p) * a + np.sin(p) * ant
    turned = np.cos(q) * first + np.sin(q) * sep
    return LongAxis(origin=axis.origin, axis=(float(turned[0]), float(turned[1]),
                                              float(turned[2])))  # fmt: skip


def shifted(axis: LongAxis, anterior_mm: float = 0.0, septal_mm: float = 0.0) -> LongAxis:
    """The long axis moved sideways (the reader's correction of the axis origin).

    Parameters
    ----------
    axis
        The axis to move; its direction is kept.
    anterior_mm, septal_mm
        Move the origin (hence the whole axis) this far towards the anterior and septal
        directions of `axis`'s frame (:mod:`workbench.spect.lvframe`), in mm; negative
        values move it towards inferior and lateral. A move along the axis would change
        nothing: the apex is found from the image along the axis.

    Examples
    --------
    >>> base = LongAxis((0.0, 0.0, 0.0), (1.0, 0.0, 0.0))
    >>> [round(v, 6) + 0.0 for v in shifted(base, 5.0).origin]   # anterior is -y
    [0.0, -5.0, 0.0]
    """
    frame = axis.frame
    moved = (np.asarray(axis.origin) + anterior_mm * np.asarray(frame.anterior)
             + septal_mm * np.asarray(frame.septal))  # fmt: skip
    return LongAxis(origin=(float(moved[0]), float(moved[1]), float(moved[2])), axis=axis.axis)
