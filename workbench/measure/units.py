"""Unit strings of measurement results and their UCUM codes (for DICOM SR).

Every result of :mod:`workbench.measure` carries its unit as a short string:

======  =====================================================================
``mm``  millimetres (any calibrated length: patient, detector, user, region)
``mm2`` square millimetres
``mL``  millilitres (volumes)
``deg`` degrees (angles)
``px``  pixels, when no calibration applies; areas are then ``px2``
======  =====================================================================

Pixel values keep the units of the modality LUT output, as
:func:`workbench.imaging.lut.modality_units` names them (``"HU"`` for CT, PET
(0054,1001) Units such as ``"BQML"``, ``"counts"``, or ``""`` for arbitrary units).
In DICOM SR, units are UCUM codes (PS3.16 CID 7181); :func:`ucum` and
:func:`from_ucum` translate, and are inverse to each other for every unit string.
"""

from __future__ import annotations

__all__ = [
    "DEGREE",
    "MILLILITRE",
    "MILLIMETRE",
    "PIXEL",
    "SQUARE_MILLIMETRE",
    "SQUARE_PIXEL",
    "area_unit",
    "from_ucum",
    "ucum",
]

MILLIMETRE = "mm"
SQUARE_MILLIMETRE = "mm2"
MILLILITRE = "mL"
DEGREE = "deg"
PIXEL = "px"
SQUARE_PIXEL = "px2"

_UCUM: dict[str, tuple[str, str]] = {
    MILLIMETRE: ("mm", "millimeter"),
    SQUARE_MILLIMETRE: ("mm2", "square millimeter"),
    "mm3": ("mm3", "cubic millimeter"),
    MILLILITRE: ("ml", "milliliter"),
    DEGREE: ("deg", "degree"),
    PIXEL: ("{px}", "pixels"),
    SQUARE_PIXEL: ("{px2}", "square pixels"),
    "HU": ("[hnsf'U]", "Hounsfield unit"),
    "BQML": ("Bq/ml", "Becquerels/milliliter"),
    "GML": ("{SUVbw}g/ml", "Standardized Uptake Value body weight"),
    "": ("[arb'U]", "arbitrary unit"),
}
_FROM_UCUM = {code: unit for unit, (code, _) in _UCUM.items()}


def area_unit(length_unit: str) -> str:
    """Return the unit of an area measured with lengths in `length_unit`.

    Examples
    --------
    >>> area_unit("mm"), area_unit("px")
    ('mm2', 'px2')
    """
    return f"{length_unit}2"


def ucum(unit: str) -> tuple[str, str]:
    """Return ``(code value, code meaning)`` of `unit` in UCUM.

    Units without a UCUM equivalent become UCUM annotations (``"{unit}"``), which
    UCUM reads as dimensionless, so that nothing is lost on the way to SR.

    Examples
    --------
    >>> ucum("HU")
    ("[hnsf'U]", 'Hounsfield unit')
    >>> ucum("counts")
    ('{counts}', 'counts')
    """
    if unit in _UCUM:
        return _UCUM[unit]
    return f"{{{unit}}}", unit or "no units"


def from_ucum(code: str) -> str:
    """Return the unit string of UCUM code `code`, the inverse of :func:`ucum`.

    Codes we did not write come back unchanged (``"cm"`` stays ``"cm"``).

    Examples
    --------
    >>> from_ucum("ml"), from_ucum("{counts}"), from_ucum("cm")
    ('mL', 'counts', 'cm')
    """
    if code in _FROM_UCUM:
        return _FROM_UCUM[code]
    if len(code) >= 2 and code.startswith("{") and code.endswith("}"):
        return code[1:-1]
    return code
