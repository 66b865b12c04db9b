"""Server-side rendering of one frame to JPEG or PNG (WADO-RS ``/rendered``, thumbnails).

Arrays are ``(row, col)`` or ``(row, col, channel)``, zero-based from the top-left
pixel; viewport and region values are in pixels, ``x`` along columns and ``y`` along
rows. Grey-scale frames follow PS3.4 N.2: modality LUT (PS3.3 C.11.1) -> VOI (C.11.2:
the requested window, else the dataset's window, else its VOI LUT Sequence, else a
percentile window) -> MONOCHROME1 inversion (C.7.6.3.1.2) -> 8 bits. Colour frames are
converted to RGB. The region and the viewport are applied last (PS3.18 8.3.5.1).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image
from pydicom.dataset import Dataset

from workbench.dicom.frames import decode_frame, number_of_frames
from workbench.errors import NotAcceptableError, QueryError
from workbench.imaging.color import COLOR_INTERPRETATIONS, to_rgb8
from workbench.imaging.lut import (
    apply_modality_lut,
    apply_voi_lut_sequence,
    apply_window,
    auto_window,
    normalize_voi_function,
    padding_mask,
    window_from_dataset,
)

__all__ = ["MEDIA_TYPES", "Viewport", "Window", "render_array", "render_frame", "thumbnail"]

MEDIA_TYPES: dict[str, str] = {"image/jpeg": "JPEG", "image/png": "PNG"}
"""Rendered media types produced here and the Pillow format writing each."""

@dataclass(frozen=True)
class Viewport:
    """Output size and optional source region, PS3.18 8.3.5.1.3 ``vw,vh[,sx,sy,sw,sh]``.

    Attributes
    ----------
    width, height
        The viewport ``vw`` x ``vh`` in pixels: the rendered image is scaled, aspect
        ratio preserved, to the largest size that fits (up or down), never larger.
    sx, sy
        Top-left column and row of the source region (zero-based; default 0).
    sw, sh
        Region width (columns) and height (rows) from ``sx, sy``; default to the image
        edge. A negative value takes ``abs()`` pixels and flips the region
        horizontally (``sw``) or vertically (``sh``).
    """

    width: int
    height: int
    sx: int | None = None
    sy: int | None = None
    sw: int | None = None
    sh: int | None = None

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise QueryError(f"viewport size {self.width},{self.height} must be positive")
        if (self.sx is not None and self.sx < 0) or (self.sy is not None and self.sy < 0):
            raise QueryError("viewport sx and sy must not be negative")
        if self.sw == 0 or self.sh == 0:
            raise QueryError("viewport sw and sh must not be zero")

    @classmethod
    def parse(cls, value: str) -> Viewport:
        """Parse ``"vw,vh"`` or ``"vw,vh,sx,sy,sw,sh"`` (region items may be empty).

        Raises
        ------
        QueryError
            Malformed value; the message names ``viewport``.
        """
        parts = [p.strip() for p in value.split(",")]
        if len(parts) not in (2, 6):
            raise QueryError(f"viewport {value!r} must be vw,vh or vw,vh,sx,sy,sw,sh")
        try:
            numbers = [int(p) if p else None for p in parts]
        except ValueError:
            raise QueryError(f"viewport {value!r} must hold integers") from None
        if numbers[0] is None or numbers[1] is None:
            raise QueryError(f"viewport {value!r} needs vw and vh")
        return cls(numbers[0], numbers[1], *numbers[2:])

    def region(self, rows: int, columns: int) -> tuple[slice, slice, bool, bool]:
        """Return ``(row_slice, col_slice, flip_rows, flip_cols)`` for an image size.

        Raises
        ------
        QueryError
            The region lies outside the ``rows`` x ``columns`` image.
        """
        x0, y0 = self.sx or 0, self.sy or 0
        width = columns - x0 if self.sw is None else abs(self.sw)
        height = rows - y0 if self.sh is None else abs(self.sh)
        x1, y1 = min(columns, x0 + width), min(rows, y0 + height)
        if x0 >= x1 or y0 >= y1:
            raise QueryError(f"viewport region is outside the {columns} x {rows} image")
        flip_cols, flip_rows = (self.sw or 0) < 0, (self.sh or 0) < 0
        return slice(y0, y1), slice(x0, x1), flip_rows, flip_cols


@dataclass(frozen=True)
class Window:
    """A VOI window in modality output units (PS3.18 8.3.5.1.4, PS3.3 C.11.2.1.2).

    ``function`` is a VOI LUT Function defined term: LINEAR, LINEAR_EXACT or SIGMOID.
    """

    center: float
    width: float
    function: str = "LINEAR"

    def __post_init__(self) -> None:
        try:
            function = normalize_voi_function(self.function)
            apply_window(np.zeros(1), self.center, self.width, function)
        except ValueError as exc:
            raise QueryError(f"window: {exc}") from None
        object.__setattr__(self, "function", function)

    @classmethod
    def parse(cls, value: str) -> Window:
        """Parse ``"center,width[,function]"``; function ``linear`` (default),
        ``linear-exact`` or ``sigmoid``.

        Raises
        ------
        QueryError
            Malformed value or width invalid for the function; names ``window``.
        """
        parts = [p.strip() for p in value.split(",")]
        if len(parts) not in (2, 3):
            raise QueryError(f"window {value!r} must be center,width[,function]")
        try:
            center, width = float(parts[0]), float(parts[1])
        except ValueError:
            raise QueryError(f"window {value!r}: center and width must be numbers") from None
        return cls(center, width, parts[2] if len(parts) == 3 and parts[2] else "LINEAR")


def render_array(
    ds: Dataset,
    number: int = 1,
    *,
    window: Window | None = None,
    decoded: tuple[npt.NDArray[Any], str] | None = None,
) -> npt.NDArray[np.uint8]:
    """Return frame `number` (one-based) as display-ready 8-bit values.

    Shape ``(rows, cols)`` for grey-scale, ``(rows, cols, 3)`` RGB for colour.
    `window` applies to grey-scale only. Pixels equal to (0028,0120) Pixel Padding
    Value (or within the range up to (0028,0121) Pixel Padding Range Limit) render
    black and take no part in the automatic window. `decoded` is the frame as
    :func:`~workbench.dicom.frames.decode_frame` returns it, for a caller that read it
    by itself (``ds`` then needs no Pixel Data); it is not modified.

    Raises
    ------
    InvalidDicomError
        The dataset has no Pixel Data (an ECG, an SR) or cannot be decoded.
    NotFoundError
        `number` is out of range.
    ValueError
        A photometric interpretation that cannot be rendered (names it).
    """
    array, interpretation = decode_frame(ds, number) if decoded is None else decoded
    if interpretation in ("MONOCHROME1", "MONOCHROME2"):
        return _render_grey(ds, number, array, interpretation == "MONOCHROME1", window)
    if interpretation in COLOR_INTERPRETATIONS:
        return to_rgb8(array, interpretation, ds)
    raise ValueError(f"PhotometricInterpretation {interpretation!r} cannot be rendered")


def render_frame(
    ds: Dataset,
    number: int = 1,
    *,
    window: Window | None = None,
    viewport: Viewport | None = None,
    media_type: str = "image/jpeg",
    quality: int = 90,
    decoded: tuple[npt.NDArray[Any], str] | None = None,
) -> bytes:
    """Render frame `number` (one-based) and encode it as `media_type`.

    The region (``sx, sy, sw, sh``) is cut out first, then scaled to fit the viewport
    (Lanczos when shrinking, bicubic when enlarging). Without a viewport the frame
    keeps its ``columns`` x ``rows`` size. `quality` (1-100) applies to JPEG; 90, the
    default, is what Orthanc and most viewers use (a 512 x 512 CT slice: about 40 KB;
    Huffman optimisation would save 2 % for twice the encoding time). `decoded` is as
    for :func:`render_array`.

    Raises
    ------
    NotAcceptableError
        `media_type` is not one of :data:`MEDIA_TYPES`.
    QueryError
        `quality` out of range, or a viewport region outside the image.
    """
    image_format = _image_format(media_type)
    if not 1 <= quality <= 100:
        raise QueryError(f"quality {quality} must be between 1 and 100")
    pixels = render_array(ds, number, window=window, decoded=decoded)
    image = Image.fromarray(pixels) if viewport is None else _fit(pixels, viewport)
    buffer = io.BytesIO()
    if image_format == "JPEG":
        image.save(buffer, format="JPEG", quality=quality)
    else:
        image.save(buffer, format="PNG", compress_level=3)
    return buffer.getvalue()


def thumbnail(ds: Dataset, *, size: int = 128, media_type: str = "image/jpeg") -> bytes:
    """Render the middle frame (``(n + 1) // 2``, one-based) to fit ``size`` x ``size``."""
    middle = (number_of_frames(ds) + 1) // 2
    return render_frame(ds, max(middle, 1), viewport=Viewport(size, size), media_type=media_type)


# -- helpers -------------------------------------------------------------------------


def _image_format(media_type: str) -> str:
    key = media_type.split(";")[0].strip().lower()
    if key not in MEDIA_TYPES:
        raise NotAcceptableError(
            f"cannot render {media_type!r}; supported: {', '.join(MEDIA_TYPES)}"
        )
    return MEDIA_TYPES[key]


def _render_grey(
    ds: Dataset, number: int, array: npt.NDArray[np.generic], invert: bool, window: Window | None
) -> npt.NDArray[np.uint8]:
    if array.ndim == 3:
        array = array[..., 0]
    # Every step maps each stored value on its own (modality LUT, window or VOI LUT,
    # inversion, padding): the pipeline runs once per distinct value of an integer frame's
    # range and the frame is looked up in that table, which gives the same bytes with a
    # fraction of the work (a 12-bit CT slice has 4096 possible values, 262144 pixels).
    # Only the automatic window looks at the pixels themselves.
    table_index = _table_index(array)
    if table_index is None:
        source: npt.NDArray[Any] = array
    else:
        source = np.arange(int(array.min()), int(array.max()) + 1, dtype=np.int64)
    values = apply_modality_lut(source, ds, number)
    padding = _padding_mask(ds, source)
    chosen = (window.center, window.width, window.function) if window else None
    chosen = chosen or window_from_dataset(ds, number)
    if chosen is not None:
        scaled = apply_window(values, *chosen)
    else:
        lut = apply_voi_lut_sequence(values, ds)
        if lut is not None:
            scaled = lut
        else:
            pixels, pixel_padding = values, padding
            if table_index is not None:
                pixels = values[table_index]
                pixel_padding = None if padding is None else padding[table_index]
            center, width = auto_window(pixels if pixel_padding is None else pixels[~pixel_padding])
            scaled = apply_window(values, center, width, "LINEAR_EXACT")
    scaled = np.multiply(scaled, 255.0, out=scaled)  # in place: the arrays are our own
    if invert:
        np.subtract(255.0, scaled, out=scaled)
    if padding is not None:
        scaled[padding] = 0.0
    display = np.rint(scaled, out=scaled).astype(np.uint8)
    return display if table_index is None else np.take(display, table_index, mode="clip")


def _table_index(array: npt.NDArray[Any]) -> npt.NDArray[np.unsignedinteger[Any]] | None:
    """Offsets of an integer frame's values from its minimum, when a table of the values
    from minimum to maximum has no more entries than the frame has pixels; else None."""
    if array.dtype.kind not in "iu" or array.dtype.itemsize > 4 or array.size == 0:
        return None
    low, high = int(array.min()), int(array.max())
    if high - low >= max(array.size, 256):
        return None
    unsigned = np.dtype(f"u{array.dtype.itemsize}")
    # value - low in unsigned arithmetic modulo 2**bits: exact, as 0 <= value - low < 2**bits
    offset = unsigned.type(low % (1 << (8 * array.dtype.itemsize)))
    index: npt.NDArray[np.unsignedinteger[Any]] = np.subtract(
        array.view(unsigned), offset, dtype=unsigned
    )
    return index


def _padding_mask(ds: Dataset, array: npt.NDArray[Any]) -> npt.NDArray[np.bool_] | None:
    mask = padding_mask(array, ds)
    return mask if mask is not None and mask.any() else None


def _fit(pixels: npt.NDArray[np.uint8], viewport: Viewport) -> Image.Image:
    rows, cols = pixels.shape[:2]
    row_slice, col_slice, flip_rows, flip_cols = viewport.region(rows, cols)
    region = pixels[row_slice, col_slice]
    if flip_rows:
        region = region[::-1]
    if flip_cols:
        region = region[:, ::-1]
    image = Image.fromarray(np.ascontiguousarray(region))
    scale = min(viewport.width / image.width, viewport.height / image.height)
    size = (
        min(viewport.width, max(1, math.floor(image.width * scale + 0.5))),
        min(viewport.height, max(1, math.floor(image.height * scale + 0.5))),
    )
    if size == image.size:
        return image
    resample = Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC
    return image.resize(size, resample=resample, reducing_gap=3.0 if scale < 0.5 else None)
