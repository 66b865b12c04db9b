"""Import of DICOM SR TID 1500 Measurement Reports (highdicom) back into measurements.

:func:`read_measurement_report` turns the groups that :mod:`workbench.measure.sr`
writes back into the same result objects (values bit for bit, points exactly when
they are 32-bit floats, as DICOM stores them). Groups written by other software are
read when they fit a workbench measurement (a Length, Long/Short axis, Angle or Cobb
angle NUM with its SCOORD; a NUM on a POINT as a probe; a planar ROI with all our
statistics); their calibration then comes from the source image's header passed in
`images`, or is "pixels" when the unit says so. :func:`report_rows` lists every NUM of
any TID 1500 report, for tables.

Coordinates: SCOORD ``(column, row)`` from the image's top-left corner become
``(row - 0.5, col - 0.5)`` pixel-centre points (see :mod:`workbench.measure.reference`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import UID, Comprehensive3DSRStorage, ComprehensiveSRStorage, EnhancedSRStorage

from workbench.measure import _sr_codes as sc
from workbench.measure.angle import AngleMeasurement, CobbAngleMeasurement
from workbench.measure.bidirectional import BidirectionalMeasurement
from workbench.measure.calibration import UNCALIBRATED, Calibration, calibration_from_dataset
from workbench.measure.linear import LinearMeasurement
from workbench.measure.probe import ProbeMeasurement
from workbench.measure.reference import ImageReference, Point
from workbench.measure.results import PlanarMeasurement
from workbench.measure.roi import RoiStatistics
from workbench.measure.shapes import Ellipse, Freehand, Polygon, Rectangle, RoiShape
from workbench.measure.units import PIXEL, area_unit, from_ucum

__all__ = ["read_measurement_report", "report_rows"]

_DOCUMENTS: dict[UID, type[hd.sr.Comprehensive3DSR | hd.sr.ComprehensiveSR | hd.sr.EnhancedSR]] = {
    Comprehensive3DSRStorage: hd.sr.Comprehensive3DSR,
    ComprehensiveSRStorage: hd.sr.ComprehensiveSR,
    EnhancedSRStorage: hd.sr.EnhancedSR,
}
_Group = hd.sr.MeasurementsAndQualitativeEvaluations
_Drawn = tuple[str, tuple[Point, ...], ImageReference]


class _Skip(Exception):
    """A group that is not a workbench measurement."""


def read_measurement_report(
    sr: Dataset, *, images: Mapping[str, Dataset] | None = None
) -> list[PlanarMeasurement]:
    """Return the 2-D measurements of a TID 1500 report, in document order.

    Parameters
    ----------
    sr
        The SR document (Comprehensive 3D, Comprehensive or Enhanced SR).
    images
        Headers of the source images by SOP Instance UID, used to calibrate groups
        that do not record a workbench calibration.

    Raises
    ------
    ValueError
        `sr` is not a TID 1500 report, or a group written by workbench
        (``workbench:`` tracking identifier) is malformed.
    """
    out: list[PlanarMeasurement] = []
    for group in _groups(sr):
        tool = (group.tracking_identifier or "").removeprefix(sc.TRACKING_PREFIX)
        ours = (group.tracking_identifier or "").startswith(sc.TRACKING_PREFIX)
        try:
            out.append(_measurement(group, tool if ours else "", images or {}))
        except (_Skip, ValueError, IndexError, AttributeError) as exc:
            if ours:  # other writers' groups that do not fit are left to report_rows
                raise ValueError(f"SR group {group.tracking_identifier!r}: {exc}") from exc
    return out


def report_rows(sr: Dataset) -> list[dict[str, Any]]:
    """Return one dict per NUM of every measurement group of a TID 1500 report.

    Keys: ``group`` (0-based), ``tracking_identifier``, ``tracking_uid``, ``name``,
    ``code`` (``"SCT:410668003"``), ``value``, ``unit``, ``derivation``,
    ``graphic_type``, ``sop_instance_uid``, ``frame``.
    """
    rows = []
    for index, group in enumerate(_groups(sr)):
        region = _lenient(_region, group)
        for num in group.get_measurements():
            drawn = _lenient(_drawn, num) or [region or ("", (), None)]
            graphic, _, image = drawn[0]
            rows.append({
                "group": index,
                "tracking_identifier": group.tracking_identifier or "",
                "tracking_uid": str(group.tracking_uid or ""),
                "name": num.name.meaning,
                "code": f"{num.name.scheme_designator}:{num.name.value}",
                "value": _value(num),
                "unit": from_ucum(num.unit.value),
                "derivation": num.derivation.meaning if num.derivation is not None else "",
                "graphic_type": graphic,
                "sop_instance_uid": image.sop_instance_uid if image else "",
                "frame": image.frame if image else None,
            })  # fmt: skip
    return rows


def _lenient(read: Any, item: Any) -> Any:
    """``read(item)``, or ``None`` when another writer's content does not have that shape."""
    try:
        return read(item)
    except (_Skip, IndexError, AttributeError, KeyError):
        return None


def _value(num: Any) -> float:
    """The NUM's value; NaN when it has none (a qualifier such as "not available")."""
    try:
        return float(num.value)
    except (IndexError, AttributeError, TypeError):
        return math.nan


def _groups(sr: Dataset) -> Iterator[_Group]:
    document = _DOCUMENTS.get(UID(str(sr.get("SOPClassUID", ""))))
    if document is None:
        raise ValueError(f"SOPClassUID {sr.get('SOPClassUID')} is not an SR that holds TID 1500")
    templates = sr.get("ContentTemplateSequence") or [Dataset()]
    if templates[0].get("TemplateIdentifier") != "1500":
        raise ValueError("the SR document is not a TID 1500 Measurement Report")
    content = document.from_dataset(sr).content
    if not isinstance(content, hd.sr.MeasurementReport):
        raise ValueError("the SR document is not a TID 1500 Measurement Report")
    for container in content[0].ContentSequence:
        if container.name != hd.sr.CodedConcept("126010", "DCM", "Imaging Measurements"):
            continue
        for item in container.ContentSequence:
            if item.name == hd.sr.CodedConcept("125007", "DCM", "Measurement Group"):
                yield _Group.from_sequence([item])


def _measurement(group: _Group, tool: str, images: Mapping[str, Dataset]) -> PlanarMeasurement:
    nums = {(n.name.scheme_designator, n.name.value): n for n in group.get_measurements()}

    def has(code: Any) -> bool:
        return (code.scheme_designator, code.value) in nums

    def num(code: Any) -> Any:
        if not has(code):
            raise _Skip(f"no {code.meaning} measurement")
        return nums[(code.scheme_designator, code.value)]

    def calibrate(unit: str, points: Sequence[Point], image: ImageReference) -> Calibration:
        return _calibration(group, unit, points, image, images)

    region = _region(group)
    if region is not None:
        graphic, points, image = region
        area, mean = num(sc.AREA), num(sc.MEAN)
        stats = {field: float(num(code).value) for field, code in sc.ROI_STATISTICS.items()}
        return RoiStatistics(
            shape=_shape(graphic, points, tool), area=float(area.value),
            area_unit=from_ucum(area.unit.value), pixel_count=int(num(sc.PIXEL_COUNT).value),
            unit=from_ucum(mean.unit.value),
            calibration=calibrate(from_ucum(area.unit.value), points, image), image=image, **stats,
        )  # fmt: skip
    if has(sc.COBB_ANGLE):
        m = num(sc.COBB_ANGLE)
        drawn = _drawn(m)
        if len(drawn) != 2:
            raise _Skip("a Cobb angle needs two lines")
        p, q = (_points(d, "POLYLINE", 2) for d in drawn)
        return CobbAngleMeasurement(((p[0], p[1]), (q[0], q[1])), float(m.value),
                                    from_ucum(m.unit.value), calibrate("", p + q, drawn[0][2]),
                                    drawn[0][2])
    if has(sc.ANGLE):
        m = num(sc.ANGLE)
        drawn_angle = _only(m)
        a, v, b = _points(drawn_angle, "POLYLINE", 3)
        image = drawn_angle[2]
        return AngleMeasurement((a, v, b), float(m.value), from_ucum(m.unit.value),
                                calibrate("", (a, v, b), image), image)
    if has(sc.LENGTH):
        m = num(sc.LENGTH)
        image, unit = _only(m)[2], from_ucum(m.unit.value)
        p = _points(_only(m), "POLYLINE", 2)
        return LinearMeasurement((p[0], p[1]), float(m.value), unit, calibrate(unit, p, image),
                                 image)
    if has(sc.LONG_AXIS):
        m, s = num(sc.LONG_AXIS), num(sc.SHORT_AXIS)
        image, unit = _only(m)[2], from_ucum(m.unit.value)
        p, q = _points(_only(m), "POLYLINE", 2), _points(_only(s), "POLYLINE", 2)
        return BidirectionalMeasurement((p[0], p[1]), (q[0], q[1]), float(m.value),
                                        float(s.value), unit, calibrate(unit, p + q, image), image)
    for m in nums.values():
        drawn = _drawn(m)
        if len(drawn) == 1 and drawn[0][0] == "POINT":
            (point,) = _points(drawn[0], "POINT", 1)
            index = (math.floor(point[0] + 0.5), math.floor(point[1] + 0.5))
            return ProbeMeasurement(point, index, float(m.value), from_ucum(m.unit.value),
                                    calibrate("", (point,), drawn[0][2]), drawn[0][2])
    raise _Skip("no measurement workbench knows")


def _calibration(group: _Group, unit: str, points: Sequence[Point], image: ImageReference,
                 images: Mapping[str, Dataset]) -> Calibration:
    """The group's recorded calibration, else the image header's, else pixels if `unit` says."""
    method = group.method
    if method is not None:
        found = sc.calibration_from_code(method.value, method.scheme_designator, method.meaning)
        if found is not None:
            return found
    header = images.get(image.sop_instance_uid)
    if header is not None:
        return calibration_from_dataset(header, points, frame=image.frame or 1)
    if unit in (PIXEL, area_unit(PIXEL)):
        return UNCALIBRATED
    raise _Skip("no calibration recorded and no image header given")


def _region(group: _Group) -> _Drawn | None:
    for item in group[0].ContentSequence:
        if item.ValueType == "SCOORD" and item.name == hd.sr.CodedConcept(
            "111030", "DCM", "Image Region"
        ):
            return _as_drawn(item)
    return None


def _drawn(num: Any) -> list[_Drawn]:
    return [_as_drawn(c) for c in num.referenced_coordinates if c.ValueType == "SCOORD"]


def _as_drawn(item: Dataset) -> _Drawn:
    data = np.asarray(item.GraphicData, dtype=np.float64).reshape(-1, 2)
    points = tuple((float(y) - 0.5, float(x) - 0.5) for x, y in data)
    ref = item.ContentSequence[0].ReferencedSOPSequence[0]
    frames = ref.get("ReferencedFrameNumber")
    frame = None if frames is None else int(frames if isinstance(frames, int) else frames[0])
    image = ImageReference(str(ref.ReferencedSOPClassUID), str(ref.ReferencedSOPInstanceUID), frame)
    return str(item.GraphicType), points, image


def _only(num: Any) -> _Drawn:
    drawn = _drawn(num)
    if len(drawn) != 1:
        raise _Skip(f"{num.name.meaning} needs one SCOORD, has {len(drawn)}")
    return drawn[0]


def _points(drawn: _Drawn, graphic: str, count: int) -> tuple[Point, ...]:
    if drawn[0] != graphic or len(drawn[1]) != count:
        raise _Skip(f"expected a {graphic} of {count} points, got {drawn[0]} of {len(drawn[1])}")
    return drawn[1]


def _shape(graphic: str, points: tuple[Point, ...], tool: str) -> RoiShape:
    if graphic == "ELLIPSE" and len(points) == 4:
        first, second = (points[0], points[1]), (points[2], points[3])
        if math.dist(*second) > math.dist(*first):  # some writers list the minor axis first
            first, second = second, first
        return Ellipse(first, second)
    if graphic == "CIRCLE" and len(points) == 2:
        radius = math.dist(points[0], points[1])
        return Ellipse.from_center(points[0], radius, radius)
    if graphic == "POLYLINE" and len(points) >= 4 and points[0] == points[-1]:
        if tool == "rectangle" and len(points) == 5:
            return Rectangle(points[0], points[2])
        return (Freehand if tool == "freehand" else Polygon).from_points(points)
    raise _Skip(f"a {graphic} of {len(points)} points is not a closed outline")
