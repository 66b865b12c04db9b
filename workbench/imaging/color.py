"""Colour photometric interpretations to 8-bit RGB, as small pure functions.

Arrays are ``(rows, cols, 3)`` or ``(frames, rows, cols, 3)`` with the samples of
each pixel last (colour-by-pixel, as :func:`workbench.dicom.frames.decode_frame`
returns them), or ``(..., rows, cols)`` indices for PALETTE COLOR. Every function
returns a new ``uint8`` array with a trailing RGB axis (PS3.3 C.7.6.3.1.2).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_color_lut

__all__ = ["COLOR_INTERPRETATIONS", "palette_to_rgb", "rgb_to_8bit", "to_rgb8", "ybr_to_rgb"]

# Forward RGB -> YCbCr matrices and offsets of PS3.3 C.7.6.3.1.2 (ITU-R BT.601).
_YBR_FULL = (np.array([[0.299, 0.587, 0.114], [-0.1687, -0.3313, 0.5], [0.5, -0.4187, -0.0813]]),
             np.array([0.0, 128.0, 128.0]))  # fmt: skip
_YBR_PARTIAL = (
    np.array([[0.2568, 0.5041, 0.0979], [-0.1482, -0.2910, 0.4392], [0.4392, -0.3678, -0.0714]]),
    np.array([16.0, 128.0, 128.0]),
)
_YBR = {"YBR_FULL": _YBR_FULL, "YBR_FULL_422": _YBR_FULL,
        "YBR_PARTIAL_422": _YBR_PARTIAL, "YBR_PARTIAL_420": _YBR_PARTIAL}  # fmt: skip

COLOR_INTERPRETATIONS: frozenset[str] = frozenset({"RGB", "PALETTE COLOR", *_YBR})
"""Photometric interpretations :func:`to_rgb8` converts."""

UInt8Array = npt.NDArray[np.uint8]


def ybr_to_rgb(array: npt.ArrayLike, photometric_interpretation: str) -> UInt8Array:
    """Convert 8-bit YCbCr samples to RGB (PS3.3 C.7.6.3.1.2).

    YBR_FULL and YBR_FULL_422 (after its 4:2:2 subsampling is removed, as
    :func:`~workbench.dicom.frames.decode_frame` does) use the full-range BT.601
    equations; YBR_PARTIAL_422/420 the partial-range ones (Y 16-235). Values are
    rounded and clipped to 0-255. The last axis holds (Y, Cb, Cr).

    Raises
    ------
    ValueError
        Another PhotometricInterpretation.
    """
    if photometric_interpretation not in _YBR:
        raise ValueError(f"PhotometricInterpretation {photometric_interpretation!r} is not YBR")
    matrix, offset = _YBR[photometric_interpretation]
    rgb = (np.asarray(array, dtype=np.float64) - offset) @ np.linalg.inv(matrix).T
    return np.asarray(np.clip(np.rint(rgb), 0, 255), dtype=np.uint8)


def palette_to_rgb(array: npt.ArrayLike, ds: Dataset) -> UInt8Array:
    """Look PALETTE COLOR indices up in the dataset's palette (PS3.3 C.7.6.3.1.5, C.7.9).

    Red, Green and Blue Palette Color Lookup Table Descriptor and Data (segmented
    tables included) map each stored index to a colour; 16-bit entries keep their
    high byte. The result has a trailing RGB axis.
    """
    rgb = apply_color_lut(np.asarray(array), ds)
    if rgb.dtype.itemsize > 1:
        rgb = rgb >> 8
    return np.asarray(rgb, dtype=np.uint8)


def rgb_to_8bit(array: npt.ArrayLike, bits_stored: int = 8) -> UInt8Array:
    """Scale RGB samples of `bits_stored` bits to 0-255 (``uint8`` input is returned as is,
    copied)."""
    values = np.asarray(array)
    if values.dtype == np.uint8:
        return values.copy()
    top = float(2 ** min(max(bits_stored, 1), 32) - 1)
    return np.clip(np.rint(values.astype(np.float64) * (255.0 / top)), 0, 255).astype(np.uint8)


def to_rgb8(array: npt.NDArray[Any], photometric_interpretation: str, ds: Dataset) -> UInt8Array:
    """Convert decoded colour pixels to 8-bit RGB, whatever their interpretation.

    `photometric_interpretation` is the one the values are in (the second item of
    :func:`~workbench.dicom.frames.decode_frame`'s result, which may differ from the
    dataset's: a JPEG baseline YBR_FULL_422 frame decodes to RGB). `ds` supplies the
    palette and Bits Stored.

    Raises
    ------
    ValueError
        A grey-scale or unknown PhotometricInterpretation (names it).
    """
    if photometric_interpretation == "PALETTE COLOR":
        return palette_to_rgb(array, ds)
    if photometric_interpretation == "RGB":
        return rgb_to_8bit(array, int(ds.get("BitsStored") or 8))
    if photometric_interpretation in _YBR:
        return ybr_to_rgb(array, photometric_interpretation)
    raise ValueError(f"PhotometricInterpretation {photometric_interpretation!r} is not colour")
