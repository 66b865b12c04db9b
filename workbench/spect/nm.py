"""Reading NM Image objects: frames to (gate, slice) or (gate, angle) by their vectors.

An NM multi-frame image names in Frame Increment Pointer (0028,0009) the vectors that
index its frames (PS3.3 C.8.4.8.1.5): value ``k`` of Slice Vector (0054,0080) is the
slice number of frame ``k + 1``, of Time Slot Vector (0054,0070) its gate, and so on.
Frames are placed by those values, never by their order in the file.

=====================  =====================================================
Image Type value 3     vectors (Frame Increment Pointer)
=====================  =====================================================
TOMO                   Energy Window, Detector, Rotation, Angular View
GATED TOMO             Energy Window, Detector, Rotation, R-R Interval,
                       Time Slot, Angular View
RECON TOMO             Slice
RECON GATED TOMO       R-R Interval, Time Slot, Slice
=====================  =====================================================

Reconstructed volumes come back as :mod:`workbench.spect.volume` arrays; projections as
``([gate,] angle, y, x)`` arrays with ``angle`` in degrees (Start Angle plus Angular
Step per view, in the Rotation Direction) and ``y``/``x`` in mm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import xarray as xr
from pydicom.datadict import keyword_for_tag
from pydicom.dataset import Dataset
from pydicom.tag import Tag

from workbench.spect.nm_geometry import (
    acquisition_state,
    gate_times_ms,
    orientation_label,
    plane_affine,
)
from workbench.spect.volume import make_volume

__all__ = ["IMAGE_TYPES", "NmImage", "frame_table", "image_type", "load_nm"]

IMAGE_TYPES = ("TOMO", "GATED TOMO", "RECON TOMO", "RECON GATED TOMO")
"""The NM Image Type (value 3) kinds this module reads."""

_COLUMNS = {
    "EnergyWindowVector": "energy_window", "DetectorVector": "detector",
    "PhaseVector": "phase", "TimeSliceVector": "time_slice",
    "RotationVector": "rotation", "RRIntervalVector": "rr_interval",
    "TimeSlotVector": "time_slot", "AngularViewVector": "angular_view",
    "SliceVector": "slice",
}  # fmt: skip


@dataclass(frozen=True, eq=False)
class NmImage:
    """One NM image, its frames placed.

    Attributes
    ----------
    data
        ``([gate,] z, y, x)`` volume or ``([gate,] angle, y, x)`` projections.
    image_type
        Image Type value 3, e.g. ``"RECON GATED TOMO"``.
    series_uid, series_description
        Identity of the series.
    rr_interval_ms
        Nominal R-R interval of the accepted beats, None when not gated or not stated.
    state
        ``"stress"`` or ``"rest"`` when the description says so
        (:func:`~workbench.spect.nm_geometry.acquisition_state`), else None.
    """

    data: xr.DataArray
    image_type: str
    series_uid: str
    series_description: str
    rr_interval_ms: float | None
    state: str | None = None

    @property
    def is_gated(self) -> bool:
        """Whether the data has a ``gate`` dimension."""
        return "gate" in self.data.dims

    @property
    def is_reconstructed(self) -> bool:
        """Whether the data is a volume (RECON), not projections."""
        return self.image_type.startswith("RECON")


def image_type(ds: Dataset) -> str:
    """Return Image Type (0008,0008) value 3 in upper case (``""`` when absent)."""
    values = list(ds.get("ImageType", []) or [])
    return str(values[2]).strip().upper() if len(values) > 2 else ""


def frame_table(ds: Dataset) -> pd.DataFrame:
    """Return one row per frame with the NM vector values that index it.

    Columns: ``frame`` (1-based) and, for each vector named in Frame Increment Pointer,
    its snake-case name (``slice``, ``time_slot``, ``rr_interval``, ``angular_view``,
    ``detector``, ``energy_window``, ``rotation``, ``phase``, ``time_slice``), 1-based.

    Raises
    ------
    ValueError
        A vector is missing or its length differs from Number of Frames (names the
        attribute).
    """
    n = int(ds.get("NumberOfFrames", 1) or 1)
    pointers = ds.get("FrameIncrementPointer")
    tags = [] if pointers is None else ([pointers] if isinstance(pointers, int) else pointers)
    table: dict[str, Any] = {"frame": np.arange(1, n + 1)}
    for tag in tags:
        keyword = keyword_for_tag(Tag(tag))
        if keyword not in _COLUMNS:
            continue
        values = ds.get(keyword)
        if values is None:
            raise ValueError(f"{keyword} is named in FrameIncrementPointer but missing")
        vector = [int(values)] if isinstance(values, int) else [int(v) for v in values]
        if len(vector) != n:
            raise ValueError(f"{keyword} has {len(vector)} values for {n} frames")
        table[_COLUMNS[keyword]] = np.asarray(vector, dtype=np.int64)
    return pd.DataFrame(table)


def _place(pixels: npt.NDArray[Any], table: pd.DataFrame, keys: list[str]) -> npt.NDArray[Any]:
    """Arrange frames into ``(*[max of each key], rows, cols)`` by 1-based key columns."""
    sizes = [int(table[k].max()) for k in keys]
    out = np.zeros((*sizes, *pixels.shape[1:]), dtype=pixels.dtype)
    seen = np.zeros(sizes, dtype=np.int64)
    index = tuple(table[k].to_numpy() - 1 for k in keys)
    if any(int(i.min()) < 0 for i in index):
        raise ValueError(f"NM vectors {keys} must be 1-based")
    out[index] = pixels
    np.add.at(seen, index, 1)
    if not np.all(seen == 1):
        raise ValueError(f"frames do not cover every {'/'.join(keys)} exactly once "
                         "(FrameIncrementPointer vectors)")  # fmt: skip
    return out


def _select(table: pd.DataFrame, column: str, value: int | None) -> pd.DataFrame:
    """Rows with ``column == value`` (value None: the first value present)."""
    if column not in table:
        return table
    wanted = int(table[column].min()) if value is None else value
    rows = table[table[column] == wanted]
    if rows.empty:
        raise ValueError(f"no frame has {column.replace('_', ' ')} {wanted}")
    return rows


def load_nm(
    ds: Dataset, *, rr_interval: int | None = None, energy_window: int | None = None
) -> NmImage:
    """Return the frames of an NM TOMO, GATED TOMO, RECON TOMO or RECON GATED TOMO image.

    Parameters
    ----------
    ds
        A complete NM Image dataset (with Pixel Data).
    rr_interval, energy_window
        Which R-R interval window and energy window to keep (1-based); None: the first.

    Returns
    -------
    NmImage

    Raises
    ------
    ValueError
        Not an NM image of a supported type, or frames that do not tile the vectors.
    """
    kind = image_type(ds)
    if str(ds.get("Modality", "")) != "NM" or kind not in IMAGE_TYPES:
        raise ValueError(f"ImageType {kind!r} of modality {ds.get('Modality')!r} is not one of "
                         f"NM {', '.join(IMAGE_TYPES)}")  # fmt: skip
    pixels = np.asarray(ds.pixel_array)
    if pixels.ndim == 2:
        pixels = pixels[None]
    table = frame_table(ds)
    if "slice" not in table and kind.startswith("RECON"):
        table["slice"] = table["frame"]  # RECON TOMO without Slice Vector: frames in order
    keep = _select(_select(table, "rr_interval", rr_interval), "energy_window", energy_window)
    pixels = pixels[keep["frame"].to_numpy() - 1]
    keep = keep.reset_index(drop=True)
    gated = "time_slot" in keep and int(keep["time_slot"].max()) > 1
    times, rr_ms = gate_times_ms(ds, int(keep["time_slot"].max()) if gated else 0,
                                 rr_interval or 1)  # fmt: skip
    attrs: dict[str, Any] = {"series_uid": str(ds.get("SeriesInstanceUID", "")),
                             "image_type": kind}  # fmt: skip
    if rr_ms is not None:
        attrs["rr_interval_ms"] = rr_ms
    if kind.startswith("RECON"):
        keys = (["time_slot"] if gated else []) + ["slice"]
        volume = _place(pixels, keep, keys)
        affine, assumed = plane_affine(ds)
        attrs["geometry"] = "assumed" if assumed else "dicom"
        data = make_volume(volume, affine, orientation=orientation_label(ds, affine),
                           gate_times_ms=times if gated else None, attrs=attrs)  # fmt: skip
    else:
        data = _projections(ds, pixels, keep, gated, times, attrs)
    return NmImage(data=data, image_type=kind, series_uid=attrs["series_uid"],
                   series_description=str(ds.get("SeriesDescription", "")),
                   rr_interval_ms=rr_ms, state=acquisition_state(ds))  # fmt: skip


def _projections(ds: Dataset, pixels: npt.NDArray[Any], table: pd.DataFrame, gated: bool,
                 times: list[float], attrs: dict[str, Any]) -> xr.DataArray:  # fmt: skip
    """Projection frames as ``([gate,] angle, y, x)``, angles from the rotation modules."""
    rotations = list(ds.get("RotationInformationSequence", []) or [])
    detectors = list(ds.get("DetectorInformationSequence", []) or [])
    angles = np.zeros(len(table))
    for i, row in enumerate(table.itertuples(index=False)):
        rot = rotations[int(getattr(row, "rotation", 1)) - 1] if rotations else Dataset()
        det_index = int(getattr(row, "detector", 1)) - 1
        det = detectors[det_index] if det_index < len(detectors) else Dataset()
        start = float(det.get("StartAngle", rot.get("StartAngle", 0.0)) or 0.0)
        step = float(rot.get("AngularStep", 0.0) or 0.0)
        sign = -1.0 if str(rot.get("RotationDirection", "CW")) == "CC" else 1.0
        angles[i] = (start + sign * step * (int(getattr(row, "angular_view", 1)) - 1)) % 360
    table = table.assign(angle=np.round(angles, 4))
    unique = np.unique(table["angle"])
    table = table.assign(angle_index=np.searchsorted(unique, table["angle"]) + 1)
    keys = (["time_slot"] if gated else []) + ["angle_index"]
    stack = _place(pixels, table, keys)
    spacing = [float(v) for v in ds.get("PixelSpacing", [1.0, 1.0])]
    dims = (("gate",) if gated else ()) + ("angle", "y", "x")
    coords: dict[str, Any] = {"angle": unique, "y": np.arange(stack.shape[-2]) * spacing[0],
                              "x": np.arange(stack.shape[-1]) * spacing[1]}  # fmt: skip
    if gated:
        coords["gate"] = np.arange(stack.shape[0])
        coords["time_ms"] = ("gate", np.asarray(times))
    return xr.DataArray(stack, dims=dims, coords=coords,
                        attrs={**attrs, "units": "counts", "orientation": "projection"})
