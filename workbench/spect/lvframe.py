"""The left-ventricular frame: long axis, anterior and septal directions, angles.

Conventions shared by the phantom and the analysis, so that "segment 4" or "60 degrees"
means the same place in both:

* Patient coordinates are DICOM LPS millimetres (+x patient left, +y posterior,
  +z superior).
* The **long axis** ``axis`` is a unit vector pointing from the base towards the apex.
* The **anterior** direction ``anterior`` is the patient's anterior direction
  ``(0, -1, 0)`` projected onto the plane perpendicular to the long axis and normalised.
* The **septal** direction is ``septal = axis x anterior``. For a usual heart (apex left,
  anterior and inferior) it points towards the right ventricle.
* The **polar angle** ``theta`` (degrees) is measured in that plane from ``anterior``
  (0) towards ``septal`` (90): 180 is inferior, 270 lateral. A bull's-eye drawn with
  ``theta`` counter-clockwise from 12 o'clock has the septum on the left, as the
  clinical packages show it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["LvFrame", "axis_from_angles", "angles_from_axis", "angle_between"]

F64 = npt.NDArray[np.float64]
Vector = tuple[float, float, float]
_ANTERIOR_LPS = np.array([0.0, -1.0, 0.0])


def axis_from_angles(azimuth_deg: float, elevation_deg: float) -> Vector:
    """Return the unit long axis (base to apex, LPS) for a tilt given as two angles.

    Parameters
    ----------
    azimuth_deg
        Angle in the axial plane from the patient's left (+x) towards anterior (-y).
        A usual heart is near 45.
    elevation_deg
        Angle below the axial plane, towards the feet (-z). A usual heart is near 25.

    Returns
    -------
    tuple of float
        ``(x, y, z)`` unit vector.

    Examples
    --------
    >>> [round(v, 3) for v in axis_from_angles(0.0, 0.0)]
    [1.0, -0.0, -0.0]
    """
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    return (math.cos(el) * math.cos(az), -math.cos(el) * math.sin(az), -math.sin(el))


def angles_from_axis(axis: npt.ArrayLike) -> tuple[float, float]:
    """Inverse of :func:`axis_from_angles`: ``(azimuth_deg, elevation_deg)`` of `axis`."""
    a = _unit(axis)
    elevation = math.degrees(math.asin(float(np.clip(-a[2], -1.0, 1.0))))
    azimuth = math.degrees(math.atan2(float(-a[1]), float(a[0])))
    return azimuth, elevation


def angle_between(u: npt.ArrayLike, v: npt.ArrayLike) -> float:
    """Return the angle in degrees between two directions (0 to 180)."""
    cos = float(np.clip(_unit(u) @ _unit(v), -1.0, 1.0))
    return math.degrees(math.acos(cos))


@dataclass(frozen=True)
class LvFrame:
    """An LV-centred frame in patient space.

    Attributes
    ----------
    origin
        LPS mm of a point on the long axis (its meaning is the caller's: the phantom uses
        the epicardial apex, the analysis the centre of its apical sampling sphere).
    axis
        Unit long axis, base to apex (normalised on construction).
    """

    origin: Vector
    axis: Vector

    def __post_init__(self) -> None:
        object.__setattr__(self, "axis", _vector(_unit(self.axis)))
        object.__setattr__(self, "origin", _vector(np.asarray(self.origin, np.float64)))

    @property
    def anterior(self) -> Vector:
        """Unit anterior direction perpendicular to the axis (see module docstring)."""
        a = np.asarray(self.axis)
        ant = _ANTERIOR_LPS - (_ANTERIOR_LPS @ a) * a
        if np.linalg.norm(ant) < 1e-6:  # axis straight anterior: use superior instead
            sup = np.array([0.0, 0.0, 1.0])
            ant = sup - (sup @ a) * a
        return _vector(_unit(ant))

    @property
    def septal(self) -> Vector:
        """Unit septal direction ``axis x anterior``."""
        return _vector(np.cross(self.axis, self.anterior))

    def rotation(self) -> F64:
        """Return the 3 x 3 matrix whose rows are ``anterior``, ``septal``, ``axis``."""
        return np.array([self.anterior, self.septal, self.axis], dtype=np.float64)

    def direction(self, theta_deg: npt.ArrayLike) -> F64:
        """Unit vectors in the short-axis plane at polar angles `theta_deg`, shape ``(..., 3)``."""
        t = np.radians(np.asarray(theta_deg, np.float64))[..., None]
        return np.asarray(np.cos(t) * self.anterior + np.sin(t) * np.asarray(self.septal))

    def to_local(self, points: npt.ArrayLike) -> F64:
        """Return ``(..., 3)`` local coordinates ``(anterior, septal, axial)`` in mm of LPS
        points, relative to :attr:`origin` (axial grows towards the apex)."""
        p = np.asarray(points, np.float64) - np.asarray(self.origin)
        return np.asarray(p @ self.rotation().T)

    def to_patient(self, local: npt.ArrayLike) -> F64:
        """Inverse of :meth:`to_local`."""
        q = np.asarray(local, np.float64)
        return np.asarray(q @ self.rotation() + np.asarray(self.origin))

    def cylindrical(self, points: npt.ArrayLike) -> tuple[F64, F64, F64]:
        """Return ``(axial_mm, radius_mm, theta_deg)`` of LPS points about the long axis;
        `theta_deg` in ``[0, 360)``."""
        q = self.to_local(points)
        radius = np.hypot(q[..., 0], q[..., 1])
        theta = np.degrees(np.arctan2(q[..., 1], q[..., 0])) % 360.0
        return q[..., 2], radius, np.where(theta >= 360.0, 0.0, theta)  # -1e-15 % 360 == 360


def _unit(v: npt.ArrayLike) -> F64:
    a = np.asarray(v, np.float64)
    n = float(np.linalg.norm(a))
    if not n > 0.0:
        raise ValueError(f"direction {a.tolist()} has zero length")
    return a / n


def _vector(values: npt.ArrayLike) -> Vector:
    x, y, z = (float(v) for v in np.asarray(values, dtype=np.float64))
    return x, y, z
