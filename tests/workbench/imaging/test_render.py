"""Rendering frames to JPEG/PNG, and the window/viewport query values of PS3.18 8.3.5."""

from __future__ import annotations

import io

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_color_lut

from workbench.errors import InvalidDicomError, NotAcceptableError, NotFoundError, QueryError
from workbench.imaging.lut import apply_window, auto_window
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
