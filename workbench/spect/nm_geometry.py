"""Geometry, gating times and labels of NM images (helpers of :mod:`workbench.spect.nm`).

Where a reconstructed NM image puts its slices: Image Orientation (Patient) and Image
Position (Patient) of the first slice, at the top level or in the first Detector
Information Sequence item (NM Reconstruction / NM Detector modules, PS3.3 C.8.4.11),
slices stepping by Spacing Between Slices along ``row x column`` cosines.
"""

from __future__ import annotations

import re
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

__all__ = ["acquisition_state", "gate_times_ms", "orientation_label", "plane_affine"]

F64 = npt.NDArray[np.float64]
State = Literal["stress", "rest"]

_STRESS = re.compile(r"\b(STRESS|STR|STRS|EXERCISE|EX|ADENO\w*|REGADENOSON|LEXISCAN|"
                     r"DIPYRIDAMOLE|DOBUTAMINE|PHARM)\b")  # fmt: skip
_REST = re.compile(r"\b(REST|RST|RS)\b")
_LABELS = (
    (re.compile(r"\b(SA|SAX|SHORT)\b"), "short axis"),
    (re.compile(r"\b(VLA|V\s*LONG|VERT\w*)\b"), "vertical long axis"),
    (re.compile(r"\b(HLA|H\s*LONG|HORIZ\w*)\b"), "horizontal long axis"),
    (re.compile(r"\b(TRANS\w*|AXIAL|TRA)\b"), "transaxial"),
)


def _values(ds: Dataset, keyword: str) -> list[float]:
    """Numbers of `keyword` at the top level, else in the first Detector Information item."""
    value = ds.get(keyword)
    if value is None:
        items = list(ds.get("DetectorInformationSequence", []) or [])
        value = items[0].get(keyword) if items else None
    return [] if value is None else [float(v) for v in value]


def plane_affine(ds: Dataset) -> tuple[F64, bool]:
    """Return ``(affine, assumed)``: voxel ``(x, y, z, 1)`` to LPS mm of a RECON image.

    ``assumed`` is True when Image Orientation/Position (Patient) are absent (older
    files): the grid is then taken as axial with its first voxel at the origin, which
    places it correctly up to a shift and is flagged in the volume's attrs.
    """
    spacing = [float(v) for v in (ds.get("PixelSpacing") or [1.0, 1.0])]
    step = ds.get("SpacingBetweenSlices") or ds.get("SliceThickness") or spacing[0]
    iop, ipp = _values(ds, "ImageOrientationPatient"), _values(ds, "ImagePositionPatient")
    assumed = len(iop) != 6 or len(ipp) != 3
    if assumed:
        row, col, origin = np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), np.zeros(3)
    else:
        cos = np.asarray(iop, np.float64)
        row, col = cos[:3] / np.linalg.norm(cos[:3]), cos[3:] / np.linalg.norm(cos[3:])
        col = col - (row @ col) * row
        col /= np.linalg.norm(col)
        origin = np.asarray(ipp, np.float64)
    affine = np.eye(4)
    affine[:3, 0] = row * spacing[1]
    affine[:3, 1] = col * spacing[0]
    affine[:3, 2] = np.cross(row, col) * float(step)
    affine[:3, 3] = origin
    return affine, assumed


def orientation_label(ds: Dataset, affine: npt.ArrayLike) -> str:
    """Name the slice orientation: from Image ID / Series Description keywords (vendor SA,
    VLA and HLA sets), else ``"transaxial"`` when the slice normal is the patient's z axis,
    else ``"unknown"``."""
    for keyword in ("ImageID", "SeriesDescription"):
        text = str(ds.get(keyword, "") or "").upper().replace("_", " ")
        for pattern, label in _LABELS:
            if pattern.search(text):
                return label
    normal = np.asarray(affine, np.float64)[:3, 2]
    normal = normal / np.linalg.norm(normal)
    return "transaxial" if abs(float(normal[2])) > 0.99 else "unknown"


def gate_times_ms(ds: Dataset, n_gates: int,
                  rr_window: int = 1) -> tuple[list[float], float | None]:  # fmt: skip
    """Return (start time of each gate after the R wave in ms, nominal R-R interval in ms).

    From the Gated Information Sequence item of `rr_window` (1-based): Time Slot Time of
    each slot, else Frame Time; the R-R interval from Nominal Interval, else the sum of the
    slots, else 60000 / Heart Rate. Times are evenly spread over the interval when only
    the interval is known, and empty when `n_gates` is 0.
    """
    windows = list(ds.get("GatedInformationSequence", []) or [])
    window = windows[rr_window - 1] if len(windows) >= rr_window else Dataset()
    data_items = list(window.get("DataInformationSequence", []) or [])
    data = data_items[0] if data_items else Dataset()
    slots = [float(item.get("TimeSlotTime", 0) or 0)
             for item in data.get("TimeSlotInformationSequence", []) or []]  # fmt: skip
    rr: float | None = None
    if data.get("NominalInterval"):
        rr = float(data.NominalInterval)
    elif slots and all(s > 0 for s in slots):
        rr = sum(slots)
    elif ds.get("HeartRate"):
        rr = 60000.0 / float(ds.HeartRate)
    if n_gates == 0:
        return [], rr
    if len(slots) != n_gates or not all(s > 0 for s in slots):
        frame_time = float(data.get("FrameTime", 0) or 0)
        width = frame_time if frame_time > 0 else (rr / n_gates if rr else 1.0)
        slots = [width] * n_gates
    return [float(t) for t in np.concatenate([[0.0], np.cumsum(slots)[:-1]])], rr


def acquisition_state(ds: Dataset) -> State | None:
    """Guess stress or rest from Series Description, Image ID and Protocol Name keywords.

    Returns None when neither or both appear: the caller must then say which is which.
    """
    text = " ".join(str(ds.get(k, "") or "") for k in
                    ("SeriesDescription", "ImageID", "ProtocolName")).upper()  # fmt: skip
    text = re.sub(r"[_\-/]", " ", text)
    stress, rest = bool(_STRESS.search(text)), bool(_REST.search(text))
    if stress == rest:
        return None
    return "stress" if stress else "rest"
