"""The AHA 17-segment model of the left ventricle (Cerqueira et al., Circulation 2002).

A point of the myocardium is located by two numbers:

* ``h``, its normalised long-axis position: 0 at the base (valve plane), 1 at the apex
  (of the surface it lies on), measured along the long axis;
* ``theta``, its polar angle in degrees (:mod:`workbench.spect.lvframe`: 0 anterior,
  90 septal, 180 inferior, 270 lateral).

The LV from base to ``APEX_CAP`` is cut into three equal thirds along the long axis:
basal (segments 1-6, six 60-degree sectors), mid (7-12, six sectors) and apical (13-16,
four 90-degree sectors); the cap beyond ``APEX_CAP`` is segment 17. Sectors are centred
on anterior: segment 1 spans -30 to 30 degrees, 2 (anteroseptal) 30 to 90, and so on.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import numpy.typing as npt

__all__ = [
    "APEX_CAP", "SEGMENTS", "SEGMENT_NAMES", "TERRITORIES", "segment_centre", "segment_of",
    "territory_of",
]  # fmt: skip

APEX_CAP = 0.9
"""Normalised long-axis position (0 base, 1 apex) beyond which lies segment 17."""

SEGMENTS: tuple[int, ...] = tuple(range(1, 18))

SEGMENT_NAMES: MappingProxyType[int, str] = MappingProxyType({
    1: "basal anterior", 2: "basal anteroseptal", 3: "basal inferoseptal",
    4: "basal inferior", 5: "basal inferolateral", 6: "basal anterolateral",
    7: "mid anterior", 8: "mid anteroseptal", 9: "mid inferoseptal",
    10: "mid inferior", 11: "mid inferolateral", 12: "mid anterolateral",
    13: "apical anterior", 14: "apical septal", 15: "apical inferior",
    16: "apical lateral", 17: "apex",
})  # fmt: skip

TERRITORIES: MappingProxyType[str, tuple[int, ...]] = MappingProxyType({
    "LAD": (1, 2, 7, 8, 13, 14, 17),
    "RCA": (3, 4, 9, 10, 15),
    "LCx": (5, 6, 11, 12, 16),
})  # fmt: skip
"""Usual coronary territories of the segments (the AHA statement's default assignment)."""


def segment_of(h: npt.ArrayLike, theta_deg: npt.ArrayLike) -> npt.NDArray[np.int8]:
    """Return the AHA segment (1-17) of points at long-axis position `h` and angle `theta_deg`.

    Parameters
    ----------
    h
        Normalised long-axis position, 0 at the base and 1 at the apex; values below 0
        count as basal and above 1 as apex.
    theta_deg
        Polar angle in degrees, any range (taken modulo 360).

    Returns
    -------
    numpy.ndarray
        int8 segment numbers, the broadcast shape of the inputs.

    Examples
    --------
    >>> segment_of([0.1, 0.5, 0.8, 0.95], [0.0, 180.0, 90.0, 0.0]).tolist()
    [1, 10, 14, 17]
    """
    h_arr, theta = np.broadcast_arrays(np.asarray(h, np.float64), np.asarray(theta_deg, float))
    theta = theta % 360.0
    six = (np.floor(((theta + 30.0) % 360.0) / 60.0)).astype(np.int8)  # 0 anterior .. 5
    four = (np.floor(((theta + 45.0) % 360.0) / 90.0)).astype(np.int8)  # 0 ant, 1 sep ..
    third = APEX_CAP / 3.0
    out = np.where(h_arr < third, 1 + six, np.where(h_arr < 2 * third, 7 + six, 13 + four))
    out = np.where(h_arr >= APEX_CAP, 17, out)
    return out.astype(np.int8)


def segment_centre(segment: int) -> tuple[float, float]:
    """Return ``(h, theta_deg)`` of the centre of `segment` (17: ``h`` halfway into the cap).

    Examples
    --------
    >>> segment_centre(4)
    (0.15, 180.0)
    """
    if segment not in SEGMENT_NAMES:
        raise ValueError(f"AHA segment must be 1 to 17, got {segment}")
    third = APEX_CAP / 3.0
    if segment == 17:
        return (1.0 + APEX_CAP) / 2.0, 0.0
    if segment >= 13:
        return 2.5 * third, 90.0 * (segment - 13)
    ring = (segment - 1) // 6
    return round((ring + 0.5) * third, 6), 60.0 * ((segment - 1) % 6)


def territory_of(segment: int) -> str:
    """Return the coronary territory (``"LAD"``, ``"RCA"`` or ``"LCx"``) of `segment`."""
    for name, members in TERRITORIES.items():
        if segment in members:
            return name
    raise ValueError(f"AHA segment must be 1 to 17, got {segment}")
