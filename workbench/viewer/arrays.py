"""A notebook's own image array as a series the viewers show, pixels from the kernel.

:func:`describe_dataarray` turns an ``xarray.DataArray`` from :mod:`workbench.imaging`
(a ``("z", "y", "x")`` volume in mm, a ``("frame", "y", "x")`` loop or one
``("y", "x")`` image of modality values) into a
:class:`~workbench.viewer.display.SeriesDisplay` whose ``source`` is ``"kernel"``, and a
function that returns frames as 32-bit floats. The browser asks the kernel for frames
(``assets/kernel.js``) instead of fetching them from WADO-RS, so no archive is needed.

Index conventions: frame ``k`` of the display is ``array.isel({dim: k})`` along the first
dim (``z`` increasing, i.e. along the slice normal, as
:func:`~workbench.imaging.volume.series_volume` orders it); rows and columns are the
``y`` and ``x`` dims.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from workbench.imaging.planes import PixelSpacing
from workbench.imaging.presets import WindowPreset, presets_for
from workbench.imaging.volume import geometry_of
from workbench.viewer.display import Frame, PixelFormat, SeriesDisplay, SeriesKind
from workbench.viewer.labels import Markers, markers_from_cosines
from workbench.viewer.mpr import reformat_planes

__all__ = ["describe_dataarray"]

FrameSource = Callable[[Sequence[int]], bytes]
"""Frames at display indices -> their float32 little-endian values, one after another."""

_STACK_DIMS = ("z", "frame")


def _stacked(array: xr.DataArray) -> xr.DataArray:
    """`array` as (stack, y, x), a single image getting a stack of one."""
    if "rgb" in array.dims:
        raise ValueError(f"dims {array.dims}: colour arrays are not supported, show one "
                         "channel (array.sel(rgb='R')) or the archive's series")
    if set(array.dims) == {"y", "x"}:
        return array.transpose("y", "x").expand_dims("frame")
    stack = [d for d in array.dims if d in _STACK_DIMS]
    if array.ndim != 3 or len(stack) != 1 or not {"y", "x"} <= set(array.dims):
        raise ValueError(f"dims {array.dims}: expected ('z', 'y', 'x'), ('frame', 'y', 'x') "
                         "or ('y', 'x')")
    return array.transpose(stack[0], "y", "x")


def _spacing(array: xr.DataArray) -> PixelSpacing:
    """Pixel spacing from the ``spacing`` attribute, else from mm coordinates."""
    spacing = array.attrs.get("spacing")
    source = str(array.attrs.get("pixel_spacing_source") or "DataArray spacing")
    if spacing is not None and len(spacing) == 3:
        return PixelSpacing(float(spacing[1]), float(spacing[2]), source)
    steps = []
    for dim in ("y", "x"):
        coord = array.coords.get(dim)
        if coord is None or coord.size < 2 or coord.attrs.get("units") != "mm":
            return PixelSpacing(1.0, 1.0, "none")
        steps.append(abs(float(coord.values[1] - coord.values[0])))
    return PixelSpacing(steps[0], steps[1], "DataArray coordinates")


def _markers(array: xr.DataArray) -> Markers:
    cosines = array.attrs.get("image_orientation_patient")
    if cosines is None or len(cosines) != 6:
        return Markers()
    values = [float(v) for v in cosines]
    return markers_from_cosines(values[:3], values[3:])


def _window(array: xr.DataArray) -> WindowPreset | None:
    window = array.attrs.get("window")
    if window is None:
        return None
    center, width, *rest = window
    return WindowPreset("dataset", float(center), float(width), str(rest[0]) if rest else "LINEAR")


def describe_dataarray(array: xr.DataArray, *, name: str = ""
                       ) -> tuple[SeriesDisplay, FrameSource]:
    """Describe an image array for the viewers, with the function serving its frames.

    Parameters
    ----------
    array
        Modality values (HU for CT) with dims ``("z", "y", "x")``, ``("frame", "y",
        "x")`` or ``("y", "x")``; a volume from
        :func:`~workbench.imaging.volume.series_volume` brings its spacing, orientation
        (markers, and the axial/coronal/sagittal planes when it is a regular grid),
        units and window. NaN (padding) shows as the lowest value.
    name
        Text for the overlay (default: the array's name).

    Returns
    -------
    tuple
        The :class:`~workbench.viewer.display.SeriesDisplay` (``source="kernel"``) and
        the frame source for :attr:`workbench.viewer.components.ImageView.pixel_source`.

    Raises
    ------
    ValueError
        Other dims, colour, or no pixels (the message names the dims or the shape).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> series, frames = describe_dataarray(xr.DataArray(np.zeros((2, 3, 4)),
    ...                                                  dims=("frame", "y", "x")))
    >>> len(series.frames), series.formats[0].columns, len(frames([1]))
    (2, 4, 48)
    """
    stacked = _stacked(array)
    values = np.asarray(stacked.values)
    if values.size == 0:
        raise ValueError(f"array of shape {values.shape} has no pixels")
    finite = np.isfinite(values)
    fill = float(values[finite].min()) if finite.any() else 0.0
    has_gaps = not bool(finite.all())

    def frames(indices: Sequence[int]) -> bytes:
        block = values[list(indices)].astype("<f4", copy=True)
        if has_gaps:
            np.nan_to_num(block, copy=False, nan=fill, posinf=fill, neginf=fill)
        return block.tobytes()

    geometry = None
    if stacked.dims[0] == "z":
        try:
            geometry = geometry_of(stacked)
        except ValueError:
            geometry = None
    locations: list[float | None] = [None] * values.shape[0]
    if stacked.dims[0] == "z" and "z" in stacked.coords:
        locations = [round(float(z), 3) for z in stacked["z"].values]
    modality = str(array.attrs.get("modality") or "")
    window = _window(array)
    label = name or (str(array.name) if array.name is not None else "")
    display = SeriesDisplay(
        study_uid="", series_uid=f"kernel-{uuid.uuid4().hex}", modality=modality,
        kind=SeriesKind.IMAGE, description=label,
        frames=tuple(Frame(f"kernel-{k}", k + 1, 0, 1.0, 0.0, locations[k])
                     for k in range(values.shape[0])),
        formats=(PixelFormat(values.shape[1], values.shape[2], 1,
                             str(array.attrs.get("photometric_interpretation") or "MONOCHROME2"),
                             32, 32, 0, 0, floating=True),),
        presets=(() if window is None else (window,)) + presets_for(modality),
        window=window, units=str(array.attrs.get("units") or ""), spacing=_spacing(array),
        slice_thickness=_thickness(array), markers=_markers(array),
        overlay={"top_left": [label]} if label else {},
        warnings=tuple(str(w) for w in array.attrs.get("warnings") or ()),
        planes={} if geometry is None else reformat_planes(geometry),
        source="kernel", geometry=geometry)
    return display, frames


def _thickness(array: xr.DataArray) -> float | None:
    value: Any = array.attrs.get("slice_thickness")
    return float(value) if value not in (None, "") else None
