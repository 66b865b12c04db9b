"""Rendering frames to JPEG/PNG, and the window/viewport query values of PS3.18 8.3.5."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_color_lut

from workbench.dicom.frames import decode_frame
from workbench.errors import InvalidDicomError, NotAcceptableError, NotFoundError, QueryError
from workbench.imaging.lut import (
    apply_modality_lut,
    apply_voi_lut_sequence,
    apply_window,
    auto_window,
    window_from_dataset,
)
from workbench.imaging.render import Viewport, Window, render_array, render_frame, thumbnail


def read(name: str) -> Dataset:
    path = get_testdata_file(name)
    assert path is not None, name
    return dcmread(path)


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def png_pixels(
    ds: Dataset, *, window: Window | None = None, viewport: Viewport | None = None
) -> npt.NDArray[np.uint8]:
    """The rendered PNG's pixels: lossless, so comparable value by value."""
    data = render_frame(ds, window=window, viewport=viewport, media_type="image/png")
    return np.asarray(decode(data), dtype=np.uint8)


# -- query values ---------------------------------------------------------------------


def test_viewport_parse() -> None:
    assert Viewport.parse("512,256") == Viewport(512, 256)
    assert Viewport.parse(" 64, 32 ,1,2,30,-20") == Viewport(64, 32, 1, 2, 30, -20)
    assert Viewport.parse("64,64,,,,") == Viewport(64, 64)


@pytest.mark.parametrize(
    "value", ["", "512", "1,2,3", "a,b", "0,10", "10,-5", "10,10,-1,0,5,5", "10,10,0,0,0,5",
              "10,10,0,0,5,5,7", ",10"],
)  # fmt: skip
def test_viewport_parse_errors(value: str) -> None:
    with pytest.raises(QueryError, match="viewport"):
        Viewport.parse(value)


def test_window_parse() -> None:
    assert Window.parse("40,400") == Window(40.0, 400.0, "LINEAR")
    assert Window.parse("-600,1500,linear-exact").function == "LINEAR_EXACT"
    assert Window.parse("1,0.5,SIGMOID") == Window(1.0, 0.5, "SIGMOID")


@pytest.mark.parametrize(
    "value", ["40", "40,400,linear,4", "a,400", "40,b", "40,0", "40,0.5", "40,400,cubic",
              "nan,400", "40,inf"],
)  # fmt: skip
def test_window_parse_errors(value: str) -> None:
    with pytest.raises(QueryError, match="window"):
        Window.parse(value)
    assert issubclass(QueryError, ValueError)


# -- grey-scale -------------------------------------------------------------------------


def test_explicit_window_matches_the_standard_formula() -> None:
    ds = read("CT_small.dcm")
    hu = ds.pixel_array.astype(np.float64) - 1024.0
    expected = np.rint(apply_window(hu, 40, 400) * 255).astype(np.uint8)
    np.testing.assert_array_equal(png_pixels(ds, window=Window(40, 400)), expected)


def test_dataset_window_is_the_default() -> None:
    ds = read("MR_small.dcm")
    np.testing.assert_array_equal(png_pixels(ds), png_pixels(ds, window=Window(600, 1600)))


def test_narrow_window_saturates_and_center_moves_brightness() -> None:
    ds = read("CT_small.dcm")
    hu = ds.pixel_array.astype(np.float64) - 1024.0
    median = float(np.median(hu))
    narrow = png_pixels(ds, window=Window(median, 1))
    assert set(np.unique(narrow).tolist()) == {0, 255}
    assert len(np.unique(png_pixels(ds, window=Window(median, 2000)))) > 50
    low, high = (png_pixels(ds, window=Window(c, 400)).mean() for c in (median - 200, median + 200))
    assert low > high  # a higher center shows the same tissue darker


def test_monochrome1_is_inverted() -> None:
    ds = read("CT_small.dcm")
    normal = png_pixels(ds, window=Window(40, 400)).astype(int)
    ds.PhotometricInterpretation = "MONOCHROME1"
    inverted = png_pixels(ds, window=Window(40, 400)).astype(int)
    assert np.abs(inverted - (255 - normal)).max() <= 1


@pytest.mark.parametrize("photometric", ["MONOCHROME2", "MONOCHROME1"])
def test_pixel_padding_renders_black_and_leaves_the_auto_window(photometric: str) -> None:
    ds = read("CT_small.dcm")
    stored = ds.pixel_array.copy()
    stored[:20, :] = -2000  # (0028,0120) Pixel Padding Value of this file
    ds.PixelData = stored.astype("<i2").tobytes()
    ds.PhotometricInterpretation = photometric
    out = render_array(ds)
    assert (out[:20] == 0).all()
    hu = stored.astype(np.float64) - 1024.0
    center, width = auto_window(hu[20:])
    expected = apply_window(hu[20:], center, width, "LINEAR_EXACT")
    if photometric == "MONOCHROME1":
        expected = 1.0 - expected
    np.testing.assert_array_equal(out[20:], np.rint(expected * 255).astype(np.uint8))


def test_auto_window_without_dataset_window() -> None:
    ds = read("CT_small.dcm")
    out = render_array(ds)
    assert out.dtype == np.uint8 and out.min() == 0 and out.max() == 255


# -- colour ---------------------------------------------------------------------------


def test_rgb_is_unchanged() -> None:
    ds = read("SC_rgb_rle.dcm")
    np.testing.assert_array_equal(render_array(ds), ds.pixel_array)


def test_sixteen_bit_rgb_is_scaled() -> None:
    ds = read("SC_rgb_rle_16bit.dcm")
    out = render_array(ds)
    assert out.dtype == np.uint8
    np.testing.assert_allclose(out, ds.pixel_array / 257.0, atol=1)


def test_native_ybr_is_converted_to_rgb() -> None:
    ds = read("SC_ybr_full_422_uncompressed.dcm")
    reference = ds.pixel_array  # pydicom converts YBR_FULL to RGB by default
    assert np.abs(render_array(ds).astype(int) - reference.astype(int)).max() <= 2


def test_palette_color() -> None:
    ds = read("examples_palette.dcm")
    out = render_array(ds)
    assert out.shape == (350, 800, 3)
    expected = apply_color_lut(ds.pixel_array, ds)
    if expected.dtype != np.uint8:
        expected = expected >> 8
    np.testing.assert_array_equal(out, expected)
    assert decode(render_frame(ds)).mode == "RGB"


# -- output size, region and encoding ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "viewport", "size"),
    [("CT_small.dcm", "64,64", (64, 64)), ("CT_small.dcm", "64,32", (32, 32)),
     ("MR_small.dcm", "128,128", (128, 128)), ("JPEG2000.dcm", "128,128", (32, 128)),
     ("examples_rgb_color.dcm", "100,1000", (100, 75)), ("CT_small.dcm", None, (128, 128))],
)  # fmt: skip
@pytest.mark.parametrize("media_type", ["image/jpeg", "image/png"])
def test_output_fits_the_viewport(
    name: str, viewport: str | None, size: tuple[int, int], media_type: str
) -> None:
    ds = read(name)
    data = render_frame(
        ds, viewport=Viewport.parse(viewport) if viewport else None, media_type=media_type
    )
    image = decode(data)
    assert image.format == ("JPEG" if media_type == "image/jpeg" else "PNG")
    assert image.size == size


def test_region_and_flip() -> None:
    ds = read("CT_small.dcm")
    full = render_array(ds, window=Window(40, 400))
    region = png_pixels(ds, window=Window(40, 400), viewport=Viewport(64, 32, 10, 20, 64, 32))
    np.testing.assert_array_equal(region, full[20:52, 10:74])
    flipped = png_pixels(ds, window=Window(40, 400), viewport=Viewport(64, 32, 10, 20, -64, -32))
    np.testing.assert_array_equal(flipped, full[20:52, 10:74][::-1, ::-1])
    with pytest.raises(QueryError, match="viewport"):
        render_frame(ds, viewport=Viewport(64, 64, 500, 0))


def test_jpeg_quality_changes_size() -> None:
    ds = read("CT_small.dcm")
    assert len(render_frame(ds, quality=20)) < len(render_frame(ds, quality=95))
    with pytest.raises(QueryError, match="quality"):
        render_frame(ds, quality=0)


def test_unsupported_media_type() -> None:
    with pytest.raises(NotAcceptableError, match="image/gif"):
        render_frame(read("CT_small.dcm"), media_type="image/gif")


def test_frame_numbers() -> None:
    ds = read("examples_ybr_color.dcm")
    assert decode(render_frame(ds, 30)).size == (320, 240)
    with pytest.raises(NotFoundError, match="1 to 30"):
        render_frame(ds, 31)


# -- thumbnails and non-images ------------------------------------------------------


def test_thumbnail_uses_the_middle_frame() -> None:
    ds = read("examples_ybr_color.dcm")
    expected = render_frame(ds, 15, viewport=Viewport(64, 64), media_type="image/png")
    assert thumbnail(ds, size=64, media_type="image/png") == expected
    assert decode(thumbnail(ds)).size == (128, 96)


@pytest.mark.parametrize("name", ["waveform_ecg.dcm", "test-SR.dcm"])
def test_objects_without_pixels(name: str) -> None:
    ds = read(name)
    with pytest.raises(InvalidDicomError, match="has no Pixel Data"):
        render_frame(ds)
    with pytest.raises(InvalidDicomError, match="has no Pixel Data"):
        thumbnail(ds)


def test_pixel_padding_range_limit() -> None:
    ds = read("CT_small.dcm")
    stored = ds.pixel_array.copy()
    stored[:4] = -2000
    stored[4:8] = -1990
    ds.PixelData = stored.astype("<i2").tobytes()
    ds.PixelPaddingRangeLimit = -1985
    out = render_array(ds, window=Window(-1000, 2000))
    assert (out[:8] == 0).all()
    assert out[8:].max() > 0


# -- grey-scale through a table of the frame's values -----------------------------------


def _pixel_by_pixel(
    ds: Dataset, stored: npt.NDArray[Any], window: Window | None, invert: bool
) -> npt.NDArray[np.uint8]:
    """The grey-scale pipeline applied to every pixel (the reference for the table)."""
    values = apply_modality_lut(stored, ds)
    padding = None
    if "PixelPaddingValue" in ds:
        limit = ds.get("PixelPaddingRangeLimit", ds.PixelPaddingValue)
        low, high = sorted((int(ds.PixelPaddingValue), int(limit)))
        padding = (stored >= low) & (stored <= high)
    chosen = (window.center, window.width, window.function) if window else None
    chosen = chosen or window_from_dataset(ds)
    if chosen is not None:
        scaled = apply_window(values, *chosen)
    else:
        voi = apply_voi_lut_sequence(values, ds)
        if voi is not None:
            scaled = voi
        else:
            center, width = auto_window(values if padding is None else values[~padding])
            scaled = apply_window(values, center, width, "LINEAR_EXACT")
    scaled = scaled * 255.0
    if invert:
        scaled = 255.0 - scaled
    if padding is not None:
        scaled[padding] = 0.0
    return np.rint(scaled).astype(np.uint8)


def _grey(stored: npt.NDArray[Any], bits_stored: int, photometric: str = "MONOCHROME2") -> Dataset:
    ds = read("CT_small.dcm")  # signed 16-bit, Rescale Intercept -1024, no window
    ds.Rows, ds.Columns = stored.shape
    ds.BitsStored, ds.HighBit = bits_stored, bits_stored - 1
    ds.PixelRepresentation = int(stored.dtype.kind == "i")
    ds.BitsAllocated = stored.dtype.itemsize * 8
    ds.PixelData = stored.astype(stored.dtype.newbyteorder("<")).tobytes()
    ds.PhotometricInterpretation = photometric
    del ds.PixelPaddingValue
    return ds


WINDOWS = [
    None,
    Window(40, 400),
    Window(-600, 1500, "LINEAR_EXACT"),
    Window(0, 300, "SIGMOID"),
    Window(100, 1),
    Window(-1000.5, 1.5),
    Window(1e6, 10),
]


@pytest.mark.parametrize("window", WINDOWS, ids=repr)
@pytest.mark.parametrize("photometric", ["MONOCHROME2", "MONOCHROME1"])
@pytest.mark.parametrize("size", [160, 40])  # more pixels than values (the table), and fewer
def test_table_equals_the_pipeline_pixel_by_pixel(
    window: Window | None, photometric: str, size: int
) -> None:
    rng = np.random.default_rng(size)
    stored = rng.integers(-2048, 2048, size=(size, size)).astype(np.int16)
    stored[:5] = -2000
    ds = _grey(stored, 12, photometric)
    ds.PixelPaddingValue = -2000
    expected = _pixel_by_pixel(ds, stored, window, photometric == "MONOCHROME1")
    np.testing.assert_array_equal(render_array(ds, window=window), expected)


@pytest.mark.parametrize("dtype", ["u1", "i1", "u2", "u4", "i4"])
def test_table_for_every_integer_type(dtype: str) -> None:
    info = np.iinfo(np.dtype(dtype))
    rng = np.random.default_rng(7)
    stored = rng.integers(
        max(info.min, -3000), min(info.max, 3000), size=(120, 120), endpoint=True
    ).astype(dtype)
    ds = _grey(stored, 8 * stored.dtype.itemsize)
    ds.RescaleSlope, ds.RescaleIntercept = 0.5, -100
    for window in (None, Window(10, 200)):
        expected = _pixel_by_pixel(ds, stored, window, False)
        np.testing.assert_array_equal(render_array(ds, window=window), expected)


def test_table_with_lookup_table_sequences() -> None:
    stored = np.random.default_rng(3).integers(0, 300, size=(100, 100)).astype(np.uint16)
    ds = _grey(stored, 16)
    modality = Dataset()
    modality.LUTDescriptor = [256, 10, 16]
    modality.LUTData = list(range(0, 2560, 10))
    modality.ModalityLUTType = "HU"
    ds.ModalityLUTSequence = [modality]
    voi = Dataset()
    voi.LUTDescriptor = [1024, 100, 8]
    voi.LUTData = [min(255, v // 4) for v in range(1024)]
    ds.VOILUTSequence = [voi]
    for attr in ("RescaleSlope", "RescaleIntercept"):
        delattr(ds, attr)
    np.testing.assert_array_equal(render_array(ds), _pixel_by_pixel(ds, stored, None, False))


def test_a_frame_decoded_by_the_caller() -> None:
    ds = read("CT_small.dcm")
    array, photometric = decode_frame(ds, 1)
    header = read("CT_small.dcm")
    del header.PixelData
    given = render_frame(
        header, 1, window=Window(40, 400), media_type="image/png", decoded=(array, photometric)
    )
    assert given == render_frame(ds, 1, window=Window(40, 400), media_type="image/png")
    np.testing.assert_array_equal(array, decode_frame(ds, 1)[0])  # left as it was
