"""DICOM SR TID 1500: export then import gives the same measurements."""

from __future__ import annotations

import io
import math
import sys

import highdicom as hd
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import Comprehensive3DSRStorage

from tests.synth import from_bytes, make_ct, make_us, to_bytes
from tests.workbench.measure.phantoms import projection, region, ultrasound
from workbench.measure import (
    UNCALIBRATED,
    AngleMeasurement,
    BidirectionalMeasurement,
    Calibration,
    CalibrationKind,
    CobbAngleMeasurement,
    Ellipse,
    Freehand,
    ImageReference,
    LinearMeasurement,
    PlanarMeasurement,
    Polygon,
    ProbeMeasurement,
    Rectangle,
    RoiShape,
    RoiStatistics,
    calibration_from_dataset,
    measure_angle,
    measure_bidirectional,
    measure_cobb_angle,
    measure_length,
    measurement_report,
    measurements_table,
    probe,
    read_measurement_report,
    report_table,
    roi_statistics,
    user_calibration,
)
from workbench.measure._sr_codes import calibration_code, calibration_from_code

CT = make_ct(n=1, seed=7)[0]
CINE = make_us(n_frames=3, seed=7)
EVIDENCE = [CT]


def round_trip(measurements: list[PlanarMeasurement], evidence: list[Dataset] = EVIDENCE,
               **kwargs: object) -> list[PlanarMeasurement]:
    document = measurement_report(measurements, evidence, **kwargs)  # type: ignore[arg-type]
    return read_measurement_report(from_bytes(to_bytes(document)))


# --- strategies: points on a 1/8 pixel grid are exact as 32-bit SCOORD floats -------------

grid = st.integers(-16000, 16000).map(lambda k: k / 8)
points = st.tuples(grid, grid)
values = st.floats(allow_nan=False, allow_infinity=False)
spacing = st.floats(1e-4, 100.0)
value_units = st.sampled_from(["HU", "", "BQML", "counts", "GML"])


@st.composite
def calibrations(draw: st.DrawFn) -> Calibration:
    kind = draw(st.sampled_from([k for k in CalibrationKind if k != CalibrationKind.VOLUME]))
    if kind == CalibrationKind.PIXELS:
        return UNCALIBRATED
    return Calibration(kind, draw(spacing), draw(spacing), "mm")


@st.composite
def images(draw: st.DrawFn) -> ImageReference:
    if draw(st.booleans()):
        return ImageReference.from_dataset(CT)
    return ImageReference.from_dataset(CINE, frame=draw(st.integers(1, 3)))


@st.composite
def shapes(draw: st.DrawFn) -> RoiShape:
    kind = draw(st.sampled_from(["ellipse", "rectangle", "polygon", "freehand"]))
    if kind == "ellipse":
        radii = st.integers(1, 4000).map(lambda k: k / 8)
        return Ellipse.from_center(draw(points), draw(radii), draw(radii))
    if kind == "rectangle":
        return Rectangle(draw(points), draw(points))
    vertices = tuple(draw(st.lists(points, min_size=3, max_size=8)))
    return Polygon(vertices) if kind == "polygon" else Freehand(vertices)


@st.composite
def measurements(draw: st.DrawFn) -> PlanarMeasurement:
    cal, image = draw(calibrations()), draw(images())
    kind = draw(st.sampled_from(["length", "bidirectional", "angle", "cobb", "probe", "roi"]))
    if kind == "length":
        return LinearMeasurement((draw(points), draw(points)), draw(values), cal.unit, cal, image)
    if kind == "bidirectional":
        return BidirectionalMeasurement((draw(points), draw(points)), (draw(points), draw(points)),
                                        draw(values), draw(values), cal.unit, cal, image)
    if kind == "angle":
        return AngleMeasurement((draw(points), draw(points), draw(points)), draw(values), "deg",
                                cal, image)
    if kind == "cobb":
        return CobbAngleMeasurement(((draw(points), draw(points)), (draw(points), draw(points))),
                                    draw(values), "deg", cal, image)
    if kind == "probe":
        p = draw(points)
        index = (math.floor(p[0] + 0.5), math.floor(p[1] + 0.5))
        return ProbeMeasurement(p, index, draw(values), draw(value_units), cal, image)
    return RoiStatistics(
        shape=draw(shapes()), area=draw(values), area_unit=cal.area_unit,
        pixel_count=draw(st.integers(0, 2**40)), mean=draw(values), std=draw(values),
        minimum=draw(values), maximum=draw(values), median=draw(values),
        unit=draw(value_units), calibration=cal, image=image,
    )  # fmt: skip


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(measurements(), min_size=1, max_size=3))
def test_export_then_import_gives_the_same_measurements(
    original: list[PlanarMeasurement],
) -> None:
    assert round_trip(original, [CT, CINE]) == original


def test_every_tool_from_real_measurements() -> None:
    ct = CT
    values = np.arange(64 * 64, dtype=np.float64).reshape(64, 64)
    cal = calibration_from_dataset(ct)
    user = user_calibration((0, 0), (0, 40), 12.5, base=cal)
    ref = ImageReference.from_dataset(ct)
    shapes_: list[RoiShape] = [
        Ellipse.from_center((30.5, 31.25), 10, 6),
        Rectangle((3, 4), (20, 30)),
        Polygon.from_points([(3, 4), (20, 30), (40, 2)]),
        Freehand.from_points([(3, 4), (20, 30), (40, 2), (30, 1), (3, 4)]),
    ]
    original: list[PlanarMeasurement] = [
        measure_length((1.25, 2.0), (30.0, 40.5), cal, image=ref),
        measure_bidirectional([(10, 10), (20, 30)], [(12, 22), (18, 19)], user, image=ref),
        measure_angle((0, 5), (10, 10), (20, 3), cal, image=ref),
        measure_cobb_angle([(0, 0), (3, 30)], [(40, 2), (35, 33)], cal, image=ref),
        probe(values, (5.25, 6.75), cal, units="HU", image=ref),
        *(roi_statistics(values, s, cal, units="HU", image=ref) for s in shapes_),
    ]
    back = round_trip(original, observer_name="READER^ONE")
    assert back == original
    assert [type(m) for m in back] == [type(m) for m in original]


def test_ultrasound_region_measurement_on_a_frame() -> None:
    us = ultrasound(region(0, 0, 63, 47, 0.0123))
    cal = calibration_from_dataset(us, [(5, 5), (40, 60)])
    m = measure_length((5, 5), (40, 60), cal, image=ImageReference.from_dataset(us, frame=1))
    (back,) = round_trip([m], [us])
    assert back == m and back.calibration.kind == CalibrationKind.ULTRASOUND_REGION


def test_report_is_a_tid_1500_document_others_can_read() -> None:
    m = measure_length((0, 0), (3, 4), calibration_from_dataset(CT),
                       image=ImageReference.from_dataset(CT))
    sr = from_bytes(to_bytes(measurement_report([m], [CT], series_number=42)))
    assert sr.SOPClassUID == Comprehensive3DSRStorage
    assert sr.ContentTemplateSequence[0].TemplateIdentifier == "1500"
    assert (sr.StudyInstanceUID, sr.PatientID, sr.SeriesNumber) == (
        CT.StudyInstanceUID, CT.PatientID, 42)
    table = report_table(sr)
    assert table.loc[0, ["name", "value", "unit", "graphic_type"]].tolist() == [
        "Length", m.value, "mm", "POLYLINE"]
    report = hd.sr.srread(io.BytesIO(to_bytes(sr))).content
    assert isinstance(report, hd.sr.MeasurementReport)
    (length,) = report.get_image_measurement_groups()[0].get_measurements()
    assert length.referenced_coordinates[0].value.tolist() == [[0.5, 0.5], [4.5, 3.5]]


def test_incomplete_headers_still_export_and_are_not_modified() -> None:
    """A radiograph without Patient Orientation and with a study date of zeros."""
    with pytest.warns(UserWarning, match="DA"):  # pydicom warns; modalities write it anyway
        dx = projection(ImagerPixelSpacing=[0.2, 0.2], StudyDate="00000000")
    m = measure_length((1, 2), (20, 30), calibration_from_dataset(dx),
                       image=ImageReference.from_dataset(dx))
    assert round_trip([m], [dx]) == [m]
    assert dx.StudyDate == "00000000" and "PixelData" in dx


def test_export_refuses_measurements_it_cannot_place() -> None:
    m = measure_length((0, 0), (3, 4), UNCALIBRATED)
    with pytest.raises(ValueError, match="no image reference"):
        measurement_report([m], [CT])
    other = make_ct(n=1, seed=8)[0]
    placed = measure_length((0, 0), (3, 4), UNCALIBRATED, image=ImageReference.from_dataset(other))
    with pytest.raises(ValueError, match="not in the evidence"):
        measurement_report([placed], [CT])
    with pytest.raises(ValueError, match="at least one"):
        measurement_report([], [CT])


def test_foreign_groups_use_the_image_header_for_calibration() -> None:
    """A length group without our tracking identifier and calibration code."""
    src = hd.sr.SourceImageForRegion(CT.SOPClassUID, CT.SOPInstanceUID)
    coords = hd.sr.CoordinatesForMeasurement("POLYLINE", np.array([[0.5, 0.5], [3.5, 4.5]]), src)
    num = hd.sr.Measurement(codes.SCT.Length, 2.5, codes.UCUM.Millimeter,
                            referenced_coordinates=[coords])
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        hd.sr.TrackingIdentifier(uid=hd.UID(), identifier="Lesion 1"), measurements=[num])
    report = hd.sr.MeasurementReport(
        hd.sr.ObservationContext(), codes.cid100.CTUnspecifiedBodyRegion, [group])
    sr = hd.sr.Comprehensive3DSR([CT], report[0], hd.UID(), 1, hd.UID(), 1)
    assert read_measurement_report(sr) == []  # no calibration known: skipped
    (m,) = read_measurement_report(sr, images={CT.SOPInstanceUID: CT})
    assert isinstance(m, LinearMeasurement)
    assert m.points == ((0.0, 0.0), (4.0, 3.0)) and m.value == 2.5
    assert m.calibration == calibration_from_dataset(CT)


def test_not_a_measurement_report() -> None:
    with pytest.raises(ValueError, match="SOPClassUID"):
        read_measurement_report(CT)


@pytest.mark.parametrize(
    "calibration",
    [Calibration(CalibrationKind.USER, sys.float_info.max, sys.float_info.min, "mm"),
     Calibration(CalibrationKind.MAGNIFICATION_CORRECTED, 0.1 + 0.2, 1 / 3, "mm"),
     UNCALIBRATED],
)
def test_calibration_code_is_exact_and_fits_dicom(calibration: Calibration) -> None:
    code = calibration_code(calibration)
    assert len(code.value) <= 16 and len(code.meaning) <= 64
    assert calibration_from_code(code.value, code.scheme_designator, code.meaning) == calibration


def test_tables_are_tidy() -> None:
    m = measure_length((0, 0), (3, 4), calibration_from_dataset(CT),
                       image=ImageReference.from_dataset(CT))
    stats = roi_statistics(np.ones((8, 8)), Rectangle((0, 0), (3, 3)), UNCALIBRATED, units="HU")
    table = measurements_table({"a": m, "b": stats})
    assert list(table["measurement"]) == ["a"] + ["b"] * 7
    assert list(table.loc[table.measurement == "b", "quantity"]) == [
        "area", "mean", "standard deviation", "minimum", "maximum", "median", "pixel count"]
    assert table.loc[0, "sop_instance_uid"] == CT.SOPInstanceUID
    assert table.loc[1, ["value", "unit", "calibration"]].tolist() == [9.0, "px2", "PIXELS"]


@pytest.mark.corpus
def test_corpus_reports_list_their_measurements(corpus: object) -> None:
    one = dcmread(f"{corpus}/highdicom/sr_document_with_multiple_groups.dcm")
    table = report_table(one)
    assert table["name"].tolist() == ["Intensity Histogram Mean", "Diameter", "Diameter", "Volume"]
    assert table["unit"].tolist() == ["HU", "mm", "mm", "mm3"]
    assert read_measurement_report(one) == []  # none is a workbench tool measurement
    dcmqi = report_table(dcmread(f"{corpus}/dcmqi/sr-example/sr.dcm"))
    volume = dcmqi[dcmqi["name"] == "Volume"]
    assert volume[["value", "unit"]].values.tolist() == [[pytest.approx(33.5824), "mL"]]
    with pytest.raises(ValueError, match="not a TID 1500"):
        read_measurement_report(dcmread(f"{corpus}/fo-dicom/test_SR.dcm"))
