"""Calibration rules (PS3.3 10.7.1, C.8.5.5) on synthetic headers and the shared corpus."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from tests.synth import make_ct, make_xa
from tests.workbench.measure.phantoms import projection, region, ultrasound
from workbench.measure import (
    UNCALIBRATED,
    Calibration,
    CalibrationKind,
    calibration_from_dataset,
    measure_length,
    ultrasound_regions,
    user_calibration,
)

K = CalibrationKind


def test_ct_pixel_spacing_is_in_the_patient() -> None:
    ct = make_ct(n=1)[0]
    ct.PixelSpacing = [0.7, 0.4]
    cal = calibration_from_dataset(ct)
    assert (cal.kind, cal.row_spacing, cal.column_spacing, cal.unit) == (
        K.PIXEL_SPACING, 0.7, 0.4, "mm")


def test_enhanced_pixel_measures_per_frame_win() -> None:
    ds = make_ct(n=1)[0]
    measures = [Dataset(), Dataset()]
    measures[0].PixelSpacing = [0.5, 0.5]
    measures[1].PixelSpacing = [0.25, 0.3]
    frames = []
    for item in measures:
        group = Dataset()
        group.PixelMeasuresSequence = Sequence([item])
        frames.append(group)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    assert calibration_from_dataset(ds, frame=2).row_spacing == 0.25
    assert calibration_from_dataset(ds, frame=1).column_spacing == 0.5


@pytest.mark.parametrize(
    ("attributes", "kind", "spacing"),
    [
        ({"ImagerPixelSpacing": [0.2, 0.2]}, K.DETECTOR, (0.2, 0.2)),
        ({"ImagerPixelSpacing": [0.2, 0.1], "EstimatedRadiographicMagnificationFactor": 1.25},
         K.MAGNIFICATION_CORRECTED, (0.16, 0.08)),
        ({"ImagerPixelSpacing": [0.2, 0.2], "PixelSpacing": [0.2, 0.2]}, K.DETECTOR, (0.2, 0.2)),
        ({"ImagerPixelSpacing": [0.2, 0.2], "PixelSpacing": [0.2, 0.2],
          "EstimatedRadiographicMagnificationFactor": 2.0},
         K.MAGNIFICATION_CORRECTED, (0.1, 0.1)),
        ({"ImagerPixelSpacing": [0.2, 0.2], "PixelSpacing": [0.17, 0.17]},
         K.CALIBRATED, (0.17, 0.17)),
        ({"ImagerPixelSpacing": [0.2, 0.2], "PixelSpacing": [0.18, 0.18],
          "PixelSpacingCalibrationType": "GEOMETRY",
          "EstimatedRadiographicMagnificationFactor": 2.0}, K.GEOMETRY, (0.18, 0.18)),
        ({"ImagerPixelSpacing": [0.2, 0.2], "PixelSpacing": [0.2, 0.2],
          "PixelSpacingCalibrationType": "FIDUCIAL",
          "PixelSpacingCalibrationDescription": "ball 25 mm"}, K.FIDUCIAL, (0.2, 0.2)),
        ({"NominalScannedPixelSpacing": [0.3, 0.3]}, K.SCANNED, (0.3, 0.3)),
        ({"PixelSpacing": [0, 0]}, K.PIXELS, (1.0, 1.0)),
        ({}, K.PIXELS, (1.0, 1.0)),
    ],
)  # fmt: skip
def test_projection_rules(attributes: dict[str, Any], kind: CalibrationKind,
                          spacing: tuple[float, float]) -> None:
    cal = calibration_from_dataset(projection(**attributes))
    assert cal.kind == kind
    assert (cal.row_spacing, cal.column_spacing) == pytest.approx(spacing, rel=1e-12)
    assert cal.unit == ("px" if kind == K.PIXELS else "mm")


def test_xa_magnification_from_the_demo_generator() -> None:
    xa = make_xa(n_frames=1)
    cal = calibration_from_dataset(xa)
    factor = float(xa.EstimatedRadiographicMagnificationFactor)
    assert cal.kind == K.MAGNIFICATION_CORRECTED
    assert cal.row_spacing == pytest.approx(0.36 / factor)


def test_malformed_spacing_names_the_attribute() -> None:
    with pytest.raises(ValueError, match="ImagerPixelSpacing"):
        calibration_from_dataset(projection(ImagerPixelSpacing=[0.2, -0.2]))


def test_ultrasound_region_calibrates_in_mm() -> None:
    us = ultrasound(region(10, 5, 40, 30, (0.02, 0.03)))
    cal = calibration_from_dataset(us, [(6, 12), (29, 39)])
    assert cal.kind == K.ULTRASOUND_REGION
    assert (cal.row_spacing, cal.column_spacing) == pytest.approx((0.3, 0.2))
    assert measure_length((6, 12), (6, 22), cal).value == pytest.approx(2.0)


def test_a_measurement_across_regions_is_refused() -> None:
    us = ultrasound(region(0, 0, 20, 47, 0.02), region(21, 0, 63, 47, 0.05))
    with pytest.raises(ValueError, match="one region"):
        calibration_from_dataset(us, [(10, 5), (10, 30)])
    assert calibration_from_dataset(us, [(10, 25), (10, 30)]).column_spacing == pytest.approx(0.5)


def test_points_outside_every_region_fall_back() -> None:
    us = ultrasound(region(0, 0, 20, 20, 0.02))
    assert calibration_from_dataset(us, [(30, 30), (40, 40)]) == UNCALIBRATED


def test_non_spatial_region_cannot_measure_lengths() -> None:
    doppler = region(0, 24, 63, 47, (0.01, 2.0), units=(4, 7), spatial_format=3)
    us = ultrasound(region(0, 0, 63, 23, 0.02), doppler)
    with pytest.raises(ValueError, match="not a 2-D region in cm"):
        calibration_from_dataset(us, [(30, 5), (40, 10)])
    (_, spectrum) = ultrasound_regions(us)
    assert (spectrum.x_unit, spectrum.y_unit) == ("s", "cm/s")
    assert spectrum.physical_value((34, 5)) == pytest.approx((0.05, 20.0))


def test_nested_regions_pick_the_smallest_and_ignore_format_none() -> None:
    banner = region(0, 0, 63, 47, 1.0, units=(0, 0), spatial_format=0)
    outer, inner = region(0, 0, 63, 47, 0.05), region(10, 10, 30, 30, 0.01)
    us = ultrasound(banner, outer, inner)
    assert calibration_from_dataset(us, [(12, 12), (20, 20)]).row_spacing == pytest.approx(0.1)
    assert calibration_from_dataset(us, [(2, 2), (40, 40)]).row_spacing == pytest.approx(0.5)


def test_regions_without_points() -> None:
    same = ultrasound(region(0, 0, 20, 47, 0.02), region(21, 0, 63, 47, 0.02))
    assert calibration_from_dataset(same).row_spacing == pytest.approx(0.2)
    different = ultrasound(region(0, 0, 20, 47, 0.02), region(21, 0, 63, 47, 0.05))
    with pytest.raises(ValueError, match="several spatial regions"):
        calibration_from_dataset(different)
    assert calibration_from_dataset(ultrasound()) == UNCALIBRATED


def test_user_calibration_keeps_the_aspect_ratio() -> None:
    base = Calibration(K.PIXEL_SPACING, 0.5, 0.25, "mm")
    cal = user_calibration((0, 0), (30, 40), 50.0, base=base)
    assert cal.kind == K.USER
    assert cal.row_spacing / cal.column_spacing == pytest.approx(2.0)
    assert measure_length((0, 0), (30, 40), cal).value == pytest.approx(50.0, rel=1e-15)
    square = user_calibration((0, 0), (3, 4), 10.0)
    assert (square.row_spacing, square.column_spacing) == (2.0, 2.0)
    with pytest.raises(ValueError, match="zero length"):
        user_calibration((1, 1), (1, 1), 10.0)


def test_calibration_invariants() -> None:
    with pytest.raises(ValueError):
        Calibration(K.PIXEL_SPACING, 0.0, 1.0, "mm")
    with pytest.raises(ValueError):
        Calibration(K.PIXELS, 1.0, 1.0, "mm")
    a = Calibration(K.USER, 0.5, 0.5, "mm", detail="one")
    assert a == Calibration(K.USER, 0.5, 0.5, "mm", detail="other")
    assert UNCALIBRATED.area_unit == "px2" and not UNCALIBRATED.calibrated
    assert math.isclose(a.pixel_area, 0.25)


CORPUS_EXPECTED = [
    ("fo-dicom/GH133.dcm", K.MAGNIFICATION_CORRECTED, 0.09409090909091),
    ("fo-dicom/OutOfBoundsOverlay.dcm", K.MAGNIFICATION_CORRECTED, 0.085 / 1.0433386837881),
    ("fo-dicom/CR-ModalitySequenceLUT.dcm", K.DETECTOR, 0.15),
    ("highdicom/dx_image.dcm", K.DETECTOR, 1.2),
    ("pydicom-data/RG1_J2KI.dcm", K.PIXELS, 1.0),
    ("pydicom-data/US1_UNCR.dcm", K.PIXELS, 1.0),
    ("pydicom-data/gdcm-US-ALOKA-16.dcm", K.ULTRASOUND_REGION, 0.3826530650258064),
    ("fo-dicom/DIRW0007", K.ULTRASOUND_REGION, 0.52478133506629575),
    ("pydicom-data/OBXXXX1A_2frame.dcm", K.ULTRASOUND_REGION, 0.2622878766196998),
]


@pytest.mark.corpus
@pytest.mark.parametrize(("path", "kind", "row_spacing"), CORPUS_EXPECTED)
def test_corpus_calibration(corpus: object, path: str, kind: CalibrationKind,
                            row_spacing: float) -> None:
    ds = dcmread(f"{corpus}/{path}", stop_before_pixels=True)
    cal = calibration_from_dataset(ds)
    assert cal.kind == kind
    assert cal.row_spacing == pytest.approx(row_spacing, rel=1e-12)


@pytest.mark.corpus
def test_corpus_ultrasound_m_mode_strip_is_not_a_length_region(corpus: object) -> None:
    ds = dcmread(f"{corpus}/pydicom-data/OBXXXX1A_2frame.dcm", stop_before_pixels=True)
    with pytest.raises(ValueError, match="not a 2-D region"):
        calibration_from_dataset(ds, [(530, 200), (560, 300)])
    sector = calibration_from_dataset(ds, [(100, 200), (400, 600)])
    assert sector.kind == K.ULTRASOUND_REGION
