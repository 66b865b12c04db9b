"""Grey-scale lookup steps of the DICOM pixel pipeline, as small pure functions.

The viewer, the ``/rendered`` resource and the measurements share these; none of them
re-implements a step. Arrays may have any shape (one frame ``(rows, cols)``, a stack
``(frames, rows, cols)``); every function works element-wise and returns a new array.

Pipeline (PS3.4 N.2, PS3.3 C.11): stored values -> modality LUT (C.11.1) -> values of
interest (VOI) LUT or window (C.11.2) -> presentation (MONOCHROME1 inverted).
Frame numbers are one-based, as everywhere in :mod:`workbench`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from workbench.imaging._dataset import first_float, functional_group

__all__ = [
    "VOI_FUNCTIONS",
    "apply_modality_lut",
    "apply_presentation",
    "apply_voi_lut_sequence",
    "apply_window",
    "auto_window",
    "modality_units",
    "normalize_voi_function",
    "padding_mask",
    "rescale_from_dataset",
    "window_from_dataset",
]

VOI_FUNCTIONS: frozenset[str] = frozenset({"LINEAR", "LINEAR_EXACT", "SIGMOID"})
"""Defined terms of (0028,1056) VOI LUT Function (PS3.3 C.11.2.1.3)."""

FloatArray = npt.NDArray[np.float64]


def normalize_voi_function(name: str) -> str:
    """Return the VOI LUT Function defined term for `name`.

    Accepts the DICOM terms (``"LINEAR_EXACT"``) and the PS3.18 8.3.5.1.4 query
    spellings (``"linear-exact"``), in any case.

    Raises
    ------
    ValueError
        `name` is not LINEAR, LINEAR_EXACT or SIGMOID (message names VOILUTFunction).
    """
    term = name.strip().upper().replace("-", "_")
    if term not in VOI_FUNCTIONS:
        raise ValueError(f"VOILUTFunction {name!r} is not one of LINEAR, LINEAR_EXACT, SIGMOID")
    return term


def rescale_from_dataset(ds: Dataset, frame: int = 1) -> tuple[float, float]:
    """Return ``(slope, intercept)`` of the modality rescale for one frame.

    Looks, in order, at the frame's item of Per-frame Functional Groups, the Shared
    Functional Groups (Pixel Value Transformation Sequence, PS3.3 C.7.6.16.2.9) and
    the top-level Rescale Slope / Rescale Intercept (C.11.1). Missing values mean
    ``(1.0, 0.0)``, the identity.
    """
    source = functional_group(ds, frame, "PixelValueTransformationSequence")
    if source is None or "RescaleSlope" not in source:
        source = ds
    slope = first_float(source.get("RescaleSlope"))
    intercept = first_float(source.get("RescaleIntercept"))
    return (1.0 if slope is None else slope), (0.0 if intercept is None else intercept)


def apply_modality_lut(arr: npt.ArrayLike, ds: Dataset, frame: int = 1) -> FloatArray:
    """Map stored values to modality output units (HU for CT), PS3.3 C.11.1.

    Parameters
    ----------
    arr
        Stored values of one frame (any shape), as :func:`workbench.dicom.frames.frame_array`
        returns them.
    ds
        The dataset the values come from.
    frame
        One-based frame number, used to pick per-frame rescale values of enhanced
        multi-frame images.

    Returns
    -------
    numpy.ndarray
        ``float64`` array of the same shape. A Modality LUT Sequence (C.11.1.1) takes
        precedence over rescale; values outside the LUT's input range clamp to its
        first or last entry.
    """
    values = np.asarray(arr)
    sequence = ds.get("ModalityLUTSequence")
    if sequence:
        return _lookup(values, sequence[0], ds)
    slope, intercept = rescale_from_dataset(ds, frame)
    out = values.astype(np.float64)
    if slope != 1.0:
        out *= slope
    if intercept != 0.0:
        out += intercept
    return out


def window_from_dataset(ds: Dataset, frame: int = 1) -> tuple[float, float, str] | None:
    """Return the dataset's first window as ``(center, width, function)``, or ``None``.

    The frame's Frame VOI LUT Sequence (per-frame, then shared functional groups,
    PS3.3 C.7.6.16.2.10) wins over top-level (0028,1050) Window Center and (0028,1051)
    Window Width. ``function`` is the VOI LUT Function (``"LINEAR"`` when absent or
    unrecognised). A window whose width is not valid for its function (C.11.2.1.2)
    is ignored, so callers fall back to another VOI.
    """
    source = functional_group(ds, frame, "FrameVOILUTSequence")
    if source is None or "WindowCenter" not in source:
        source = ds
    center = first_float(source.get("WindowCenter"))
    width = first_float(source.get("WindowWidth"))
    if center is None or width is None:
        return None
    try:
        function = normalize_voi_function(str(source.get("VOILUTFunction") or "LINEAR"))
    except ValueError:
        function = "LINEAR"
    if not math.isfinite(center) or not _valid_width(width, function):
        return None
    return center, width, function


def auto_window(values: npt.ArrayLike) -> tuple[float, float]:
    """Return a robust ``(center, width)`` spanning the 0.5th to 99.5th percentile.

    For datasets without a window. Non-finite values are ignored. The window is meant
    for ``LINEAR_EXACT`` (``center -/+ width / 2`` are the percentiles); a constant
    or empty input gets width ``1.0``.
    """
    flat = np.asarray(values, dtype=np.float64).ravel()
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return 0.5, 1.0
    if flat.size > 1_000_000:  # a regular sample keeps this O(1e6) for huge images
        flat = flat[:: flat.size // 1_000_000 + 1]
    low, high = (float(v) for v in np.percentile(flat, [0.5, 99.5]))
    width = high - low
    if width <= 0.0:
        return low, 1.0
    return (low + high) / 2.0, width


def apply_window(
    values: npt.ArrayLike, center: float, width: float, function: str = "LINEAR"
) -> FloatArray:
    """Apply a VOI window, returning ``float64`` in ``[0, 1]`` (PS3.3 C.11.2.1.2).

    * ``LINEAR`` (C.11.2.1.2.1): ``0`` for ``x <= c - 0.5 - (w - 1) / 2``, ``1`` for
      ``x > c - 0.5 + (w - 1) / 2``, else ``((x - (c - 0.5)) / (w - 1) + 0.5)``;
      ``w >= 1``, and ``w == 1`` is a step at ``c - 0.5``.
    * ``LINEAR_EXACT`` (C.11.2.1.3.2): ``(x - c) / w + 0.5`` clamped; ``w > 0``.
    * ``SIGMOID`` (C.11.2.1.3.1): ``1 / (1 + exp(-4 (x - c) / w))``; ``w > 0``.

    Raises
    ------
    ValueError
        Unknown function (names VOILUTFunction) or invalid width (names WindowWidth).
    """
    function = normalize_voi_function(function)
    if not _valid_width(width, function) or not math.isfinite(center):
        raise ValueError(f"WindowWidth {width} / WindowCenter {center} invalid for {function}")
    x = np.asarray(values, dtype=np.float64)
    if function == "LINEAR":
        if width == 1.0:
            return (x > center - 0.5).astype(np.float64)
        out = (x - (center - 0.5)) / (width - 1.0) + 0.5
    elif function == "LINEAR_EXACT":
        out = (x - center) / width + 0.5
    else:  # 1 / (1 + e^(-2z)) == (1 + tanh(z)) / 2, which cannot overflow
        with np.errstate(over="ignore"):  # infinities saturate tanh as they should
            return np.asarray(0.5 * (1.0 + np.tanh(2.0 * (x - center) / width)), np.float64)
    return np.clip(out, 0.0, 1.0, out=out)


def apply_voi_lut_sequence(values: npt.ArrayLike, ds: Dataset, index: int = 0) -> FloatArray | None:
    """Apply item `index` of the VOI LUT Sequence (PS3.3 C.11.2.1.1), or return ``None``.

    `values` are modality output values. Inputs below the first mapped value take
    the first entry, above the last the last one. The output is scaled to ``[0, 1]``
    by the entry range ``2**bits - 1`` from the LUT Descriptor (or by the largest
    entry when the data exceed the declared bit depth). ``None`` when the dataset
    has no such item.
    """
    sequence = ds.get("VOILUTSequence")
    if not sequence or not 0 <= index < len(sequence):
        return None
    item = sequence[index]
    mapped = _lookup(np.asarray(values), item, ds)
    bits = int(item.LUTDescriptor[2])
    top = max(float(2**bits - 1), float(np.max(_lut_table(item, ds), initial=0)))
    return np.clip(mapped / top, 0.0, 1.0)


def modality_units(ds: Dataset, frame: int = 1) -> str:
    """Return the units of the modality LUT output of frame `frame` (one-based).

    (0028,1054) Rescale Type (PS3.3 C.11.1.1.2) in the frame's Pixel Value
    Transformation Sequence or at the top level wins, except the defined term ``"US"``
    (unspecified); then ``"HU"`` for CT, (0054,1001) Units for PT (e.g. ``"BQML"``),
    ``"counts"`` for NM, else ``""`` (arbitrary units, as for MR).
    """
    group = functional_group(ds, frame, "PixelValueTransformationSequence")
    rescale_type = str((group or ds).get("RescaleType") or ds.get("RescaleType") or "")
    if rescale_type and rescale_type != "US":
        return rescale_type
    modality = str(ds.get("Modality") or "")
    if modality == "CT":
        return "HU"
    if modality == "PT":
        return str(ds.get("Units") or "")
    return "counts" if modality == "NM" else ""


def padding_mask(stored: npt.ArrayLike, ds: Dataset) -> npt.NDArray[np.bool_] | None:
    """Return where `stored` values are padding, or ``None`` when the image declares none.

    PS3.3 C.7.5.1.1.2: (0028,0120) Pixel Padding Value marks pixels outside the
    image (a CT's round field of view); with (0028,0121) Pixel Padding Range Limit
    every stored value between the two, inclusive, is padding. Both are stored
    values, so `stored` must be the values before the modality LUT (any shape). A
    value read as unsigned for signed pixels (Pixel Representation 1) is taken as
    its two's complement. Floating point pixel data has no padding (``None``).
    """
    values = np.asarray(stored)
    value = _padding_value(ds, "PixelPaddingValue")
    if value is None or values.dtype.kind == "f":
        return None
    limit = _padding_value(ds, "PixelPaddingRangeLimit")
    low, high = sorted((value, value if limit is None else limit))
    return np.asarray((values >= low) & (values <= high), dtype=np.bool_)


def apply_presentation(scaled: npt.ArrayLike, photometric_interpretation: str) -> FloatArray:
    """Return VOI output in ``[0, 1]`` as display brightness (PS3.3 C.7.6.3.1.2).

    MONOCHROME1 images show their minimum as white, so the values are inverted
    (``1 - x``); MONOCHROME2 values are returned as they are (as a new array).

    Raises
    ------
    ValueError
        Any other PhotometricInterpretation (colour images have no VOI step).
    """
    values = np.array(scaled, dtype=np.float64)
    if photometric_interpretation == "MONOCHROME1":
        return np.subtract(1.0, values, out=values)
    if photometric_interpretation == "MONOCHROME2":
        return values
    raise ValueError(
        f"PhotometricInterpretation {photometric_interpretation!r} is not grey-scale"
    )


# -- helpers -------------------------------------------------------------------------


def _padding_value(ds: Dataset, keyword: str) -> int | None:
    value = ds.get(keyword)
    if isinstance(value, MultiValue | list | tuple):
        value = value[0] if len(value) else None
    if value is None or value == "":
        return None
    number = int(value)
    bits = int(ds.get("BitsAllocated") or 16)
    if int(ds.get("PixelRepresentation") or 0) == 1 and number >= 2 ** (bits - 1):
        number -= 2**bits  # written as US although the pixels are signed
    return number


def _valid_width(width: float, function: str) -> bool:
    if not math.isfinite(width):
        return False
    return width >= 1.0 if function == "LINEAR" else width > 0.0


def _lut_table(item: Dataset, ds: Dataset) -> npt.NDArray[np.int64]:
    entries, _, bits = (int(v) for v in item.LUTDescriptor)
    entries = entries or 65536  # PS3.3 C.11.1.1.1: 0 means 2**16 entries
    data = item.LUTData
    if isinstance(data, bytes | bytearray):
        order = ">" if ds.original_encoding[1] is False else "<"
        width = 1 if bits <= 8 and len(data) == entries else 2
        table = np.frombuffer(data, dtype=f"{order}u{width}")
    else:
        table = np.asarray(data if isinstance(data, MultiValue | list) else [data])
    return table[:entries].astype(np.int64)


def _lookup(values: npt.NDArray[Any], item: Dataset, ds: Dataset) -> FloatArray:
    """Look `values` up in the LUT of `item` (LUT Descriptor + LUT Data)."""
    first = int(item.LUTDescriptor[1])
    if first >= 2**15 and int(ds.get("PixelRepresentation") or 0) == 1:
        first -= 2**16  # descriptor read as US although the data are signed
    table = _lut_table(item, ds)
    shifted = np.rint(np.asarray(values, dtype=np.float64)) - first
    index = np.clip(shifted, 0, len(table) - 1).astype(np.intp)
    return np.asarray(table[index], dtype=np.float64)
