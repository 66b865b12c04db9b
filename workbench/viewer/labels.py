"""Text shown around an image: orientation markers and the patient/study overlay.

Everything here returns plain strings; the browser puts them into the page as text
(``textContent``), never as HTML, whatever characters a header holds.

Orientation letters follow PS3.3 C.7.6.1.1.1: the patient's Left (``L``) / Right
(``R``), Anterior (``A``) / Posterior (``P``), Head (``H``) / Foot (``F``), for the
LPS axes +x, +y, +z and their opposites.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydicom.dataset import Dataset

__all__ = ["Markers", "direction_letters", "markers_from_cosines", "markers_from_dataset",
           "overlay_text", "person_name", "pretty_date", "pretty_time"]  # fmt: skip

_LETTERS = (("L", "R"), ("P", "A"), ("H", "F"))  # (+, -) of LPS x, y, z


@dataclass(frozen=True)
class Markers:
    """Which way the patient lies at each edge of the displayed image.

    Attributes
    ----------
    left, right, top, bottom
        Letters such as ``"R"``, ``"LP"`` (strongest direction first); empty when the
        orientation is unknown.
    """

    left: str = ""
    right: str = ""
    top: str = ""
    bottom: str = ""


def direction_letters(vector: Sequence[float], threshold: float = 0.25) -> str:
    """Return the letters of the patient directions a unit vector points to.

    Components of at least `threshold` in absolute value count, strongest first, so
    an axial row cosine ``(1, 0, 0)`` gives ``"L"`` and an oblique one
    ``(0.8, -0.6, 0)`` gives ``"LA"``.

    Examples
    --------
    >>> direction_letters((0.0, 0.0, -1.0))
    'F'
    >>> direction_letters((0.8, -0.6, 0.0))
    'LA'
    """
    order = sorted(range(3), key=lambda k: -abs(vector[k]))
    return "".join(_LETTERS[k][0 if vector[k] > 0 else 1] for k in order
                   if abs(vector[k]) >= threshold)


def _opposite(letters: str) -> str:
    swap = {a: b for pair in _LETTERS for a, b in (pair, pair[::-1])}
    return "".join(swap.get(c, c) for c in letters)


def markers_from_cosines(row: Sequence[float], column: Sequence[float]) -> Markers:
    """Return the markers of an image whose rows run along `row` and columns along `column`.

    `row` is the direction (LPS) in which the column index grows, towards the right
    edge; `column` the one in which the row index grows, towards the bottom edge.

    Examples
    --------
    >>> markers_from_cosines((1.0, 0.0, 0.0), (0.0, 0.0, -1.0))   # a coronal image
    Markers(left='R', right='L', top='H', bottom='F')
    """
    right, bottom = direction_letters(row), direction_letters(column)
    return Markers(_opposite(right), right, _opposite(bottom), bottom)


def markers_from_dataset(ds: Dataset) -> Markers:
    """Return the orientation markers of an image.

    From Image Orientation (Patient) (PS3.3 C.7.6.2.1.1) when present: the row cosine
    points to the right edge and the column cosine to the bottom edge. Else from
    Patient Orientation (0020,0020), the directions of the rows and the columns as
    letters (projection images). Empty markers when neither is known.

    Examples
    --------
    >>> ds = Dataset()
    >>> ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    >>> markers_from_dataset(ds)
    Markers(left='R', right='L', top='A', bottom='P')
    """
    iop = ds.get("ImageOrientationPatient")
    if iop is not None and len(iop) == 6:
        try:
            values = [float(v) for v in iop]
        except (TypeError, ValueError):
            values = []
        if values:
            return markers_from_cosines(values[:3], values[3:])
    orientation = ds.get("PatientOrientation")
    if orientation is not None and len(orientation) == 2:
        right, bottom = (str(v).strip().upper() for v in orientation)
        right = right.replace("S", "H").replace("I", "F")
        bottom = bottom.replace("S", "H").replace("I", "F")
        return Markers(_opposite(right), right, _opposite(bottom), bottom)
    return Markers()


def person_name(value: object) -> str:
    """Return a Person Name (PS3.5 6.2, ``Family^Given^Middle^Prefix^Suffix``) for reading.

    Examples
    --------
    >>> person_name("DOE^JANE^^DR")
    'DOE, JANE'
    >>> person_name("<script>alert(1)</script>")
    '<script>alert(1)</script>'
    """
    text = str(value or "").split("=")[0]
    parts = [p.strip() for p in text.split("^")]
    family, given = (parts + ["", ""])[:2]
    if family and given:
        return f"{family}, {given}"
    return family or given


def pretty_date(value: object) -> str:
    """Return a DICOM date (``YYYYMMDD``) as ``YYYY-MM-DD``; other text unchanged.

    Examples
    --------
    >>> pretty_date("20260115")
    '2026-01-15'
    """
    text = str(value or "").strip()
    if len(text) == 8 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text


def pretty_time(value: object) -> str:
    """Return a DICOM time (``HHMMSS.FFFFFF``) as ``HH:MM``; other text unchanged.

    Examples
    --------
    >>> pretty_time("093012.5")
    '09:30'
    """
    text = str(value or "").strip()
    if len(text) >= 4 and text[:4].isdigit():
        return f"{text[:2]}:{text[2:4]}"
    return text


def overlay_text(ds: Dataset) -> dict[str, list[str]]:
    """Return the corner texts of the patient/study overlay.

    Returns
    -------
    dict
        ``{"top_left": [...], "top_right": [...]}``: patient name, ID, birth date and
        sex; institution, study description, study date and time, accession, series
        number and description. Empty values are left out. The viewer adds the
        changing lines (slice, window, zoom) itself.
    """
    birth = pretty_date(ds.get("PatientBirthDate"))
    sex = str(ds.get("PatientSex") or "")
    born = " ".join(v for v in (f"born {birth}" if birth else "", sex) if v)
    when = " ".join(v for v in (pretty_date(ds.get("StudyDate")),
                                 pretty_time(ds.get("StudyTime"))) if v)
    accession = str(ds.get("AccessionNumber") or "")
    number = ds.get("SeriesNumber")
    series = " ".join(v for v in (f"Se {number}" if number not in (None, "") else "",
                                   str(ds.get("SeriesDescription") or "")) if v)
    top_left = [person_name(ds.get("PatientName")), str(ds.get("PatientID") or ""), born]
    top_right = [str(ds.get("InstitutionName") or ""), str(ds.get("StudyDescription") or ""),
                 when, f"Acc {accession}" if accession else "", series]
    return {"top_left": [t for t in top_left if t], "top_right": [t for t in top_right if t]}
