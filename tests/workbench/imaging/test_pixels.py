"""Padding, units, presentation, colour conversions and window presets, by known values."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from tests.synth import make_ct, make_mr, make_nm
from workbench.dicom.frames import decode_frame
from workbench.imaging import color, lut, presets


def read(name: str) -> Dataset:
    path = get_testdata_file(name)
    assert path is not None, name
    return dcmread(path)


def test_padding_value_and_range() -> None:
    ds = Dataset()
    values = np.array([-2000, -1500, -1000, 0, 5], dtype=np.int16)
    assert lut.padding_mask(values, ds) is None
    ds.PixelPaddingValue = -2000
    assert lut.padding_mask(values, ds).tolist() == [True, False, False, False, False]  # type: ignore[union-attr]
    ds.PixelPaddingRangeLimit = -1500  # either order: the range is inclusive
    assert lut.padding_mask(values, ds).tolist() == [True, True, False, False, False]  # type: ignore[union-attr]
    signed = Dataset()
    signed.PixelRepresentation, signed.BitsAllocated = 1, 16
    signed.PixelPaddingValue = 63536  # written as US: the two's complement of -2000
    assert lut.padding_mask(values, signed).tolist()[0] is True  # type: ignore[union-attr]
    assert lut.padding_mask(values.astype(np.float32), signed) is None


def test_modality_units() -> None:
    assert lut.modality_units(make_ct(n=1)[0]) == "HU"
    assert lut.modality_units(make_mr(n=1)[0]) == ""
    assert lut.modality_units(make_nm(matrix=8, n_slices=2)[0]) == "counts"
    pet = Dataset()
    pet.Modality, pet.Units = "PT", "BQML"
    assert lut.modality_units(pet) == "BQML"
    film = Dataset()
    film.Modality, film.RescaleType = "OT", "OD"
    assert lut.modality_units(film) == "OD"
    film.RescaleType = "US"  # unspecified
    assert lut.modality_units(film) == ""
    frames = Dataset()
    frames.Modality = "MR"
    group = Dataset()
    group.PixelValueTransformationSequence = Sequence([Dataset()])
    group.PixelValueTransformationSequence[0].RescaleType = "T1"
    frames.SharedFunctionalGroupsSequence = Sequence([group])
    assert lut.modality_units(frames, 3) == "T1"


def test_presentation_inverts_monochrome1() -> None:
    scaled = np.array([0.0, 0.25, 1.0])
    np.testing.assert_allclose(lut.apply_presentation(scaled, "MONOCHROME1"), [1.0, 0.75, 0.0])
    out = lut.apply_presentation(scaled, "MONOCHROME2")
    np.testing.assert_array_equal(out, scaled)
    assert out is not scaled
    with pytest.raises(ValueError, match="PhotometricInterpretation"):
        lut.apply_presentation(scaled, "RGB")


def test_ybr_full_round_trip() -> None:
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [128, 128, 128]]], dtype=np.float64)
    matrix = np.array([[0.299, 0.587, 0.114], [-0.1687, -0.3313, 0.5], [0.5, -0.4187, -0.0813]])
    ybr = rgb @ matrix.T + [0.0, 128.0, 128.0]  # PS3.3 C.7.6.3.1.2, forward
    back = color.ybr_to_rgb(ybr, "YBR_FULL_422")
    assert back.dtype == np.uint8
    np.testing.assert_allclose(back, rgb, atol=1)
    black = color.ybr_to_rgb([[16, 128, 128]], "YBR_PARTIAL_420")
    np.testing.assert_array_equal(black, [[0, 0, 0]])
    with pytest.raises(ValueError, match="PhotometricInterpretation"):
        color.ybr_to_rgb(ybr, "RGB")


def test_palette_and_rgb_files() -> None:
    ds = read("examples_palette.dcm")
    indices, interpretation = decode_frame(ds, 1)
    assert interpretation == "PALETTE COLOR"
    rgb = color.to_rgb8(indices, interpretation, ds)
    assert rgb.shape == (*indices.shape, 3) and rgb.dtype == np.uint8
    red = np.frombuffer(ds.RedPaletteColorLookupTableData, "<u2")
    index = int(indices[0, 0]) - int(ds.RedPaletteColorLookupTableDescriptor[1])
    assert rgb[0, 0, 0] == red[index] >> 8
    ybr = read("SC_ybr_full_422_uncompressed.dcm")
    pixels, interpretation = decode_frame(ybr, 1)
    assert color.to_rgb8(pixels, interpretation, ybr).shape == (*pixels.shape[:2], 3)
    np.testing.assert_array_equal(color.rgb_to_8bit(np.array([0, 4095]), 12), [0, 255])
    with pytest.raises(ValueError, match="PhotometricInterpretation"):
        color.to_rgb8(pixels, "MONOCHROME2", ybr)


def test_ct_presets() -> None:
    names = {p.name: (p.center, p.width) for p in presets.presets_for("ct")}
    assert names["lung"] == (-600, 1500) and names["brain"] == (40, 80)
    assert {"abdomen", "bone", "mediastinum"} <= set(names)
    assert presets.presets_for("MR") == ()
    with pytest.raises(ValueError, match="WindowWidth"):
        presets.WindowPreset("bad", 0, 0)
    assert presets.WindowPreset("x", 0, 1, "linear-exact").function == "LINEAR_EXACT"


def test_dataset_presets() -> None:
    head = make_ct(n=1, body_part="HEAD")[0]
    found = presets.dataset_presets(head)
    assert [(p.name, p.center, p.width) for p in found] == [("BRAIN", 40, 80), ("BONE", 600, 2800)]
    ds = Dataset()
    ds.WindowCenter, ds.WindowWidth, ds.VOILUTFunction = [10, 20], [0, 5], "CUBIC"
    assert presets.dataset_presets(ds) == (presets.WindowPreset("window 2", 20, 5),)
    group = Dataset()
    group.FrameVOILUTSequence = Sequence([Dataset()])
    group.FrameVOILUTSequence[0].WindowCenter = 7
    group.FrameVOILUTSequence[0].WindowWidth = 3
    group.FrameVOILUTSequence[0].VOILUTFunction = "SIGMOID"
    ds.PerFrameFunctionalGroupsSequence = Sequence([Dataset(), group])
    assert presets.dataset_presets(ds, 2) == (presets.WindowPreset("window 1", 7, 3, "SIGMOID"),)
    assert presets.dataset_presets(Dataset()) == ()
