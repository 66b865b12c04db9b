"""Cine loops: dims, frame times from every source, colour, spacing and rescale."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from tests.synth import make_ct, make_us, make_xa
from workbench.dicom.frames import frame_array
from workbench.errors import InvalidDicomError
from workbench.imaging.cine import cine_array, frame_times


def test_us_colour_loop() -> None:
    us = make_us(n_frames=4, frame_rate=25.0)
    loop = cine_array(us)
    assert loop.dims == ("frame", "y", "x", "rgb") and loop.dtype == np.uint8
    assert loop.shape == (4, 48, 64, 3) and list(loop.rgb.values) == ["R", "G", "B"]
    np.testing.assert_array_equal(loop.values[2], frame_array(us, 3))
    np.testing.assert_allclose(loop.time, np.arange(4) * float(us.FrameTime))
    assert loop.time.attrs["units"] == "ms" and list(loop.frame.values) == [1, 2, 3, 4]
    assert loop.attrs["time_source"] == "FrameTime"
    assert loop.attrs["frame_rate"] == pytest.approx(25.0, rel=1e-6)
    assert loop.attrs["photometric_interpretation"] == "RGB"
    assert loop.attrs["pixel_spacing_source"] == "SequenceOfUltrasoundRegions"
    assert loop.x.attrs["units"] == "mm"


def test_xa_grey_loop() -> None:
    xa = make_xa(n_frames=3, frame_rate=15.0)
    loop = cine_array(xa)
    assert loop.dims == ("frame", "y", "x") and loop.dtype == np.uint8
    assert loop.attrs["photometric_interpretation"] == "MONOCHROME2"
    spacing = 0.36 / float(xa.EstimatedRadiographicMagnificationFactor)
    assert float(loop.x[1]) == pytest.approx(spacing)
    xa.RescaleSlope, xa.RescaleIntercept = "2", "-1"
    rescaled = cine_array(xa)
    assert rescaled.dtype == np.float32
    np.testing.assert_array_equal(rescaled.values, loop.values * 2.0 - 1.0)


def test_frame_time_sources() -> None:
    xa = make_xa(n_frames=3)
    xa.FrameTimeVector = [0, 30, 40]
    assert frame_times(xa)[1] == "FrameTimeVector"
    np.testing.assert_allclose(frame_times(xa)[0], [0.0, 30.0, 70.0])  # type: ignore[arg-type]
    xa.FrameTimeVector = [0, 30]  # one per frame or ignored
    assert frame_times(xa)[1] == "FrameTime"
    for keyword in ("FrameTimeVector", "FrameTime", "CineRate", "RecommendedDisplayFrameRate"):
        if keyword in xa:
            delattr(xa, keyword)
    assert frame_times(xa) == (None, "none")
    loop = cine_array(xa)
    assert "time" not in loop.coords and "frame_rate" not in loop.attrs
    xa.RecommendedDisplayFrameRate = 20
    np.testing.assert_allclose(frame_times(xa)[0], [0.0, 50.0, 100.0])  # type: ignore[arg-type]
    xa.PerFrameFunctionalGroupsSequence = Sequence([
        _content("20260101090000.000"), _content("20260101090000.040"),
        _content("20260101090000.100"),
    ])  # fmt: skip
    times, source = frame_times(xa)
    assert source == "FrameContentSequence"
    np.testing.assert_allclose(times, [0.0, 40.0, 100.0])  # type: ignore[arg-type]


def test_single_frame_and_errors() -> None:
    ct = make_ct(n=1, rows=8, columns=8)[0]
    loop = cine_array(ct)
    assert loop.shape == (1, 8, 8) and loop.attrs["units"] == "HU"
    assert loop.dtype == np.float32  # CT's rescale is not the identity
    assert loop.attrs["window"] == (40.0, 400.0, "LINEAR")
    empty = Dataset()
    empty.Modality = "SR"
    with pytest.raises(InvalidDicomError, match="Pixel Data"):
        cine_array(empty)


def _content(stamp: str) -> Dataset:
    item, content = Dataset(), Dataset()
    content.FrameReferenceDateTime = stamp
    item.FrameContentSequence = Sequence([content])
    return item
