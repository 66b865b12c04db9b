"""Multi-frame images that are loops in time (US, XA cine) as ``xarray.DataArray``.

Dims are ``("frame", "y", "x")`` for grey-scale and ``("frame", "y", "x", "rgb")``
for colour. ``frame`` holds one-based frame numbers; ``time`` (along ``frame``) the
start of each frame in milliseconds after the first; ``y`` = row index x row spacing
and ``x`` = column index x column spacing, in mm when the pixel spacing is known
(:func:`~workbench.imaging.planes.pixel_spacing`: a projection image's Imager Pixel
Spacing corrected for magnification, an ultrasound region's physical deltas) and in
pixels otherwise (the coordinate's ``units`` attribute says which). Grey values are
stored values, or modality LUT output (``float32``) when that is not the identity;
colour values are 8-bit RGB whatever the photometric interpretation
(:func:`~workbench.imaging.color.to_rgb8`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import xarray as xr
from pydicom.dataset import Dataset
from pydicom.valuerep import DT

from workbench.dicom.frames import decode_frame, number_of_frames
from workbench.errors import InvalidDicomError
from workbench.imaging._dataset import first_float, functional_group
from workbench.imaging.color import COLOR_INTERPRETATIONS, to_rgb8
from workbench.imaging.lut import (
    apply_modality_lut,
    modality_units,
    rescale_from_dataset,
    window_from_dataset,
)
from workbench.imaging.planes import pixel_spacing

__all__ = ["cine_array", "frame_times"]


def frame_times(ds: Dataset) -> tuple[npt.NDArray[np.float64] | None, str]:
    """Return the start time of each frame in ms after the first, and its source.

    In order (PS3.3 C.7.6.5 Cine module, C.7.6.16.2.2 Frame Content): Frame Time
    Vector (increments between frames; the first is 0), Frame Time (constant
    increment), the per-frame Frame Reference / Frame Acquisition DateTime of an
    enhanced image, Cine Rate or Recommended Display Frame Rate (frames per second).
    ``(None, "none")`` when none of these gives one time per frame.
    """
    count = number_of_frames(ds)
    vector = ds.get("FrameTimeVector")
    if vector is not None and len(vector) == count:
        steps = np.asarray([float(v) for v in vector], dtype=np.float64)
        return np.asarray(np.cumsum(steps) - steps[0], np.float64), "FrameTimeVector"
    frame_time = first_float(ds.get("FrameTime"))
    if frame_time and frame_time > 0:
        return np.arange(count, dtype=np.float64) * frame_time, "FrameTime"
    stamps = [_frame_datetime(ds, frame) for frame in range(1, count + 1)]
    if count > 1 and all(stamp is not None for stamp in stamps):
        first = stamps[0]
        assert first is not None
        times = [(stamp - first).total_seconds() * 1000.0 for stamp in stamps if stamp]
        return np.asarray(times, dtype=np.float64), "FrameContentSequence"
    for keyword in ("CineRate", "RecommendedDisplayFrameRate"):
        rate = first_float(ds.get(keyword))
        if rate and rate > 0:
            return np.arange(count, dtype=np.float64) * (1000.0 / rate), keyword
    return None, "none"


def cine_array(ds: Dataset) -> xr.DataArray:
    """Decode every frame of `ds` into a ``("frame", "y", "x"[, "rgb"])`` DataArray.

    Attributes: ``modality``, ``sop_instance_uid``, ``series_instance_uid``,
    ``units`` (modality LUT output units; ``""`` for colour),
    ``photometric_interpretation`` (``"RGB"`` for colour output),
    ``pixel_spacing_source``, ``time_source`` (see :func:`frame_times`),
    ``frame_time_ms`` and ``frame_rate`` (median, when times are known) and ``window``
    (the first window of the dataset, grey only).

    Raises
    ------
    InvalidDicomError
        No pixel data, or frames that cannot be decoded.
    UnsupportedTransferSyntaxError
        No installed decoder handles the transfer syntax (names it).

    Examples
    --------
    >>> from workbench.demo import DEMO_PATIENTS, us_cine
    >>> loop = cine_array(us_cine(DEMO_PATIENTS[0], seed=1, n_frames=3, rows=48, columns=64))
    >>> loop.dims, loop.attrs["frame_rate"].__round__(3)
    (('frame', 'y', 'x', 'rgb'), 30.0)
    """
    count = number_of_frames(ds)
    if count == 0:
        raise InvalidDicomError("dataset has no Pixel Data: it has no frames")
    decoded = [decode_frame(ds, frame) for frame in range(1, count + 1)]
    interpretation = decoded[0][1]
    attrs: dict[str, Any] = {
        "modality": str(ds.get("Modality", "")),
        "sop_instance_uid": str(ds.get("SOPInstanceUID", "")),
        "series_instance_uid": str(ds.get("SeriesInstanceUID", "")),
    }
    if interpretation in COLOR_INTERPRETATIONS:
        values: npt.NDArray[Any] = np.stack([to_rgb8(a, i, ds) for a, i in decoded])
        attrs |= {"units": "", "photometric_interpretation": "RGB"}
    else:
        values = np.stack([a if a.ndim == 2 else a[..., 0] for a, _ in decoded])
        if _rescaled(ds, count):
            values = np.stack(
                [apply_modality_lut(v, ds, k + 1).astype(np.float32) for k, v in enumerate(values)]
            )
        attrs |= {"units": modality_units(ds), "photometric_interpretation": interpretation}
        window = window_from_dataset(ds)
        if window is not None:
            attrs["window"] = window
    spacing = pixel_spacing(ds)
    unit = {"units": "mm" if spacing.calibrated else "pixel"}
    coords: dict[str, Any] = {
        "frame": ("frame", np.arange(1, count + 1)),
        "y": ("y", np.arange(values.shape[1]) * spacing.row, unit),
        "x": ("x", np.arange(values.shape[2]) * spacing.column, unit),
    }
    dims: tuple[str, ...] = ("frame", "y", "x")
    if values.ndim == 4:
        dims += ("rgb",)
        coords["rgb"] = ("rgb", ["R", "G", "B"])
    times, source = frame_times(ds)
    attrs |= {"pixel_spacing_source": spacing.source, "time_source": source}
    if times is not None:
        coords["time"] = ("frame", times, {"units": "ms"})
        if count > 1:
            step = float(np.median(np.diff(times)))
            attrs |= {"frame_time_ms": step, "frame_rate": 1000.0 / step if step > 0 else 0.0}
    return xr.DataArray(values, dims=dims, coords=coords, attrs=attrs)


# -- helpers -------------------------------------------------------------------------


def _rescaled(ds: Dataset, count: int) -> bool:
    """Whether any frame's modality LUT is not the identity."""
    if ds.get("ModalityLUTSequence"):
        return True
    frames = range(1, count + 1) if ds.get("PerFrameFunctionalGroupsSequence") else (1,)
    return any(rescale_from_dataset(ds, frame) != (1.0, 0.0) for frame in frames)


def _frame_datetime(ds: Dataset, frame: int) -> DT | None:
    content = functional_group(ds, frame, "FrameContentSequence")
    if content is None:
        return None
    value = content.get("FrameReferenceDateTime") or content.get("FrameAcquisitionDateTime")
    if not value:
        return None
    try:
        return DT(str(value))
    except ValueError:
        return None
