"""Modality and VOI LUT steps (PS3.3 C.11.1, C.11.2) against hand-computed values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from workbench.imaging import lut


def read(name: str) -> Dataset:
    path = get_testdata_file(name)
    assert path is not None, name
    return dcmread(path)


def item(**values: object) -> Dataset:
    ds = Dataset()
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


def enhanced() -> Dataset:
    """Two frames with their own rescale and window, plus a shared default."""
    ds = Dataset()
    ds.SharedFunctionalGroupsSequence = Sequence([item(
        PixelValueTransformationSequence=Sequence([item(RescaleSlope=1, RescaleIntercept=0)]),
        FrameVOILUTSequence=Sequence([item(WindowCenter=10, WindowWidth=20)]),
    )])  # fmt: skip
    ds.PerFrameFunctionalGroupsSequence = Sequence([
        item(),
        item(
            PixelValueTransformationSequence=Sequence([item(RescaleSlope=2, RescaleIntercept=-5)]),
            FrameVOILUTSequence=Sequence([item(WindowCenter=[50, 60], WindowWidth=[100, 10],
                                               VOILUTFunction="SIGMOID")]),
        ),
    ])  # fmt: skip
    return ds


def test_modality_lut_rescale_ct() -> None:
    ds = read("CT_small.dcm")
    stored = ds.pixel_array
    hu = lut.apply_modality_lut(stored, ds)
    assert hu.dtype == np.float64
    np.testing.assert_array_equal(hu, stored.astype(np.float64) - 1024.0)


def test_modality_lut_per_frame_functional_groups() -> None:
    ds = enhanced()
    values = np.array([[0, 1], [2, 3]], dtype=np.uint16)
    np.testing.assert_array_equal(lut.apply_modality_lut(values, ds, 1), values)
    np.testing.assert_array_equal(lut.apply_modality_lut(values, ds, 2), values * 2.0 - 5.0)
    assert lut.rescale_from_dataset(ds, 2) == (2.0, -5.0)
    assert lut.rescale_from_dataset(Dataset()) == (1.0, 0.0)


def test_modality_lut_sequence_clamps() -> None:
    ds = Dataset()
    ds.PixelRepresentation = 1
    ds.ModalityLUTSequence = Sequence(
        [item(LUTDescriptor=[4, 65534, 16], LUTData=[100, 200, 300, 400])]  # first = -2
    )
    values = np.array([-5, -2, -1, 0, 1, 9], dtype=np.int16)
    np.testing.assert_array_equal(
        lut.apply_modality_lut(values, ds), [100, 100, 200, 300, 400, 400]
    )


def test_window_from_dataset() -> None:
    assert lut.window_from_dataset(read("MR_small.dcm")) == (600.0, 1600.0, "LINEAR")
    assert lut.window_from_dataset(read("J2K_pixelrep_mismatch.dcm")) == (40.0, 100.0, "LINEAR")
    assert lut.window_from_dataset(read("CT_small.dcm")) is None
    ds = enhanced()
    assert lut.window_from_dataset(ds, 1) == (10.0, 20.0, "LINEAR")
    assert lut.window_from_dataset(ds, 2) == (50.0, 100.0, "SIGMOID")


def test_window_with_invalid_width_is_ignored() -> None:
    ds = Dataset()
    ds.WindowCenter, ds.WindowWidth = 40, 0
    assert lut.window_from_dataset(ds) is None


def test_apply_window_linear_follows_c_11_2_1_2_1() -> None:
    x = np.array([-161.0, -160.0, -159.0, 39.5, 238.0, 239.0, 239.5])
    out = lut.apply_window(x, 40, 400)
    assert out[0] == out[1] == 0.0  # x <= c - 0.5 - (w - 1) / 2
    assert out[2] > 0.0
    assert out[3] == pytest.approx(0.5)
    assert out[5] == pytest.approx(1.0) and out[6] == 1.0
    np.testing.assert_array_equal(lut.apply_window(np.array([9.4, 9.5, 9.6]), 10, 1), [0, 0, 1])


def test_apply_window_linear_exact_and_sigmoid() -> None:
    x = np.array([-10.0, 0.0, 5.0, 10.0, 20.0])
    np.testing.assert_allclose(lut.apply_window(x, 5, 10, "LINEAR_EXACT"), [0, 0, 0.5, 1, 1])
    sigmoid = lut.apply_window(x, 5, 10, "sigmoid")
    assert sigmoid[2] == pytest.approx(0.5)
    assert sigmoid[3] == pytest.approx(1 / (1 + np.exp(-4 * 5 / 10)))
    assert lut.apply_window(np.array([-1e308, 1e308]), 0, 1e-300, "SIGMOID").tolist() == [0, 1]


@pytest.mark.parametrize(("width", "function"), [(0.5, "LINEAR"), (0, "SIGMOID"), (-1, "LINEAR")])
def test_apply_window_rejects_bad_width(width: float, function: str) -> None:
    with pytest.raises(ValueError, match="WindowWidth"):
        lut.apply_window(np.zeros(2), 0, width, function)


def test_unknown_function() -> None:
    with pytest.raises(ValueError, match="VOILUTFunction"):
        lut.normalize_voi_function("cubic")
    assert lut.normalize_voi_function("linear-exact") == "LINEAR_EXACT"


def test_auto_window() -> None:
    values = np.arange(1000, dtype=np.float64)
    center, width = lut.auto_window(values)
    assert center == pytest.approx(499.5)
    assert width == pytest.approx(np.percentile(values, 99.5) - np.percentile(values, 0.5))
    assert lut.auto_window(np.full(10, 7.0)) == (7.0, 1.0)
    assert lut.auto_window(np.array([np.nan, 1.0, 3.0]))[0] == pytest.approx(2.0)
    assert lut.auto_window(np.array([])) == (0.5, 1.0)


def test_voi_lut_sequence() -> None:
    ds = Dataset()
    ds.VOILUTSequence = Sequence([item(LUTDescriptor=[3, 10, 8], LUTData=[0, 128, 255])])
    out = lut.apply_voi_lut_sequence(np.array([0, 10, 11, 12, 99]), ds)
    assert out is not None
    np.testing.assert_allclose(out, [0, 0, 128 / 255, 1, 1])
    assert lut.apply_voi_lut_sequence(np.zeros(2), Dataset()) is None


@given(
    st.floats(-1e4, 1e4),
    st.floats(1, 1e4),
    st.sampled_from(sorted(lut.VOI_FUNCTIONS)),
    st.lists(st.floats(-1e5, 1e5), min_size=2, max_size=20),
)
def test_window_is_monotonic_and_bounded(
    center: float, width: float, function: str, xs: list[float]
) -> None:
    x = np.sort(np.array(xs))
    out = lut.apply_window(x, center, width, function)
    assert np.all((out >= 0) & (out <= 1))
    assert np.all(np.diff(out) >= 0)


@pytest.mark.corpus
def test_corpus_lut_sequences(corpus: Path) -> None:
    mlut = dcmread(corpus / "pydicom-data" / "mlut_18.dcm")
    out = lut.apply_modality_lut(mlut.pixel_array, mlut)
    table = np.asarray(mlut.ModalityLUTSequence[0].LUTData)
    np.testing.assert_array_equal(out, table[mlut.pixel_array.astype(int) + 2048])
    vlut = dcmread(corpus / "pydicom-data" / "vlut_04.dcm")
    voi = lut.apply_voi_lut_sequence(vlut.pixel_array, vlut)
    assert voi is not None and voi.min() >= 0 and voi.max() == 1.0
