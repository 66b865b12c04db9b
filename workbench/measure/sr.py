"""Export of 2-D measurements as a DICOM SR TID 1500 Measurement Report (highdicom).

Each measurement becomes one Measurement Group of the kind TID 1500 defines for it, so
that any reader of measurement reports finds it (highdicom's accessors do; the tests
check them):

* lengths, bidirectional axes, angles, Cobb angles and probes: TID 1501 groups whose
  NUM items (SNOMED CT Length, Long axis, Short axis, Angle, Cobb angle, or the pixel
  value) are INFERRED FROM the SCOORD they were drawn as (POLYLINE, POINT) on the
  source image;
* ROI statistics: TID 1410 planar ROI groups with the outline as Image Region
  (ELLIPSE, or a closed POLYLINE for rectangles, polygons and freehand outlines) and
  NUM items Area, Mean, Standard Deviation, Minimum, Maximum, Median, pixel count.

Every group carries the tool as Tracking Identifier ``workbench:<tool>`` (with a new
Tracking UID) and the calibration as its Measurement Method (see
:mod:`workbench.measure._sr_codes`). Values are written as DS and as exact 64-bit
Floating Point Value; SCOORD coordinates are 32-bit floats (PS3.3 C.18.6.1) with the
origin at the top-left *corner* of the image, so ``(row, col)`` points become
``(col + 0.5, row + 0.5)``. :func:`workbench.measure.sr_read.read_measurement_report`
reads them back.
"""

from __future__ import annotations

from collections.abc import Sequence

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.valuerep import DA, TM

from workbench.measure import _sr_codes as sc
from workbench.measure.angle import AngleMeasurement, CobbAngleMeasurement
from workbench.measure.bidirectional import BidirectionalMeasurement
from workbench.measure.linear import LinearMeasurement
from workbench.measure.probe import ProbeMeasurement
from workbench.measure.reference import ImageReference, Point
from workbench.measure.results import PlanarMeasurement, tool_name
from workbench.measure.roi import PIXEL_COUNT_UNIT, RoiStatistics
from workbench.measure.shapes import Ellipse
from workbench.measure.units import ucum

__all__ = ["measurement_report"]

Group = (
    hd.sr.MeasurementsAndQualitativeEvaluations
    | hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations
)


def measurement_report(
    measurements: Sequence[PlanarMeasurement],
    evidence: Sequence[Dataset],
    *,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    series_number: int = 9901,
    instance_number: int = 1,
    observer_name: str | None = None,
    manufacturer: str = "workbench",
    series_description: str = "Measurements",
) -> hd.sr.Comprehensive3DSR:
    """Return a Comprehensive 3D SR TID 1500 document holding `measurements`.

    Parameters
    ----------
    measurements
        2-D results, each with its :class:`~workbench.measure.reference.ImageReference`.
    evidence
        Headers of the measured images (pixel data not needed, and not copied), all
        of one study; patient and study attributes are copied from them. Images whose
        header lacks what the Image Library describes (TID 1602/1603, e.g. Patient
        Orientation of a radiograph) are left out of the library, not the document.
    series_instance_uid, sop_instance_uid
        UIDs of the new document; new ones when ``None``.
    series_number, instance_number
        Numbers of the new series and instance.
    observer_name
        The reader (DICOM person name ``Family^Given``); the device
        ``manufacturer`` is the observer when ``None``.
    manufacturer
        Manufacturer of the document, and the device observer's name.
    series_description
        Series Description of the new series.

    Raises
    ------
    ValueError
        No measurements, a measurement without an image, or an image absent from
        `evidence`.
    """
    if not measurements:
        raise ValueError("a measurement report needs at least one measurement")
    by_uid = {str(ds.SOPInstanceUID): ds for ds in evidence}
    for m in measurements:
        if m.image is None:
            raise ValueError(f"the {tool_name(m)} measurement has no image reference")
        if m.image.sop_instance_uid not in by_uid:
            raise ValueError(f"image {m.image.sop_instance_uid} is not in the evidence")
    headers = [_header(ds) for ds in evidence]
    referenced = {m.image.sop_instance_uid for m in measurements if m.image is not None}
    modality = str(evidence[0].get("Modality") or "")
    report = hd.sr.MeasurementReport(
        observation_context=_observation_context(observer_name, manufacturer),
        procedure_reported=sc.PROCEDURES.get(modality, sc.IMAGING_PROCEDURE),
        imaging_measurements=[_group(m, m.image) for m in measurements if m.image is not None],
        referenced_images=[ds for ds in headers
                           if str(ds.SOPInstanceUID) in referenced and _describable(ds)] or None,
    )
    sr = hd.sr.Comprehensive3DSR(
        evidence=headers,
        content=report[0],
        series_instance_uid=series_instance_uid or hd.UID(),
        series_number=series_number,
        sop_instance_uid=sop_instance_uid or hd.UID(),
        instance_number=instance_number,
        manufacturer=manufacturer,
        is_complete=True,
        series_description=series_description,
    )
    return sr


def _header(ds: Dataset) -> Dataset:
    """`ds` without pixel data and without unreadable patient/study dates and times."""
    header = Dataset()
    for element in ds:
        if element.tag.group != 0x7FE0:
            header.add(element)
    for keyword, parse in (("PatientBirthDate", DA), ("StudyDate", DA), ("StudyTime", TM)):
        value = header.get(keyword)
        if value:
            try:
                parse(str(value))
            except ValueError:  # e.g. "00000000", which highdicom cannot carry over
                header.add_new(header[keyword].tag, header[keyword].VR, "")
    return header


def _describable(ds: Dataset) -> bool:
    """Whether highdicom can describe `ds` in the Image Library (TID 1601-1603)."""
    try:
        hd.sr.ImageLibraryEntryDescriptors(ds)
    except (AttributeError, ValueError, TypeError, IndexError):
        return False
    return True


def _observation_context(observer_name: str | None, device: str) -> hd.sr.ObservationContext:
    if observer_name:
        person = hd.sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
                name=observer_name
            ),
        )
        return hd.sr.ObservationContext(observer_person_context=person)
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=hd.UID(), name=device
        ),
    )
    return hd.sr.ObservationContext(observer_device_context=observer)


def _group(m: PlanarMeasurement, image: ImageReference) -> Group:
    tracking = hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=sc.TRACKING_PREFIX + tool_name(m))
    method = sc.calibration_code(m.calibration)
    if isinstance(m, RoiStatistics):
        graphic, data = _outline(m)
        values = [(sc.AREA, m.area, m.area_unit)]
        values += [(code, getattr(m, field), m.unit) for field, code in sc.ROI_STATISTICS.items()]
        values += [(sc.PIXEL_COUNT, float(m.pixel_count), PIXEL_COUNT_UNIT)]
        return hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=tracking,
            referenced_region=hd.sr.ImageRegion(graphic, data, _source(image)),
            method=method,
            measurements=[_num(code, value, unit) for code, value, unit in values],
        )
    match m:
        case LinearMeasurement():
            nums = [_num(sc.LENGTH, m.value, m.unit, image, [m.points])]
        case BidirectionalMeasurement():
            nums = [_num(sc.LONG_AXIS, m.long_value, m.unit, image, [m.long_axis]),
                    _num(sc.SHORT_AXIS, m.short_value, m.unit, image, [m.short_axis])]
        case AngleMeasurement():
            nums = [_num(sc.ANGLE, m.value, m.unit, image, [m.points])]
        case CobbAngleMeasurement():
            nums = [_num(sc.COBB_ANGLE, m.value, m.unit, image, list(m.lines))]
        case ProbeMeasurement():
            name = sc.ATTENUATION if m.unit == "HU" else sc.PIXEL_VALUE
            nums = [_num(name, m.value, m.unit, image, [(m.point,)])]
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=tracking, method=method, measurements=nums
    )


def _num(
    name: Code,
    value: float,
    unit: str,
    image: ImageReference | None = None,
    drawn: Sequence[Sequence[Point]] = (),
) -> hd.sr.Measurement:
    code, meaning = ucum(unit)
    coordinates = [
        hd.sr.CoordinatesForMeasurement(
            "POINT" if len(points) == 1 else "POLYLINE", _graphic(points), _source(image)
        )
        for points in drawn
        if image is not None
    ]
    return hd.sr.Measurement(
        name=name,
        value=float(value),
        unit=Code(code, "UCUM", meaning),
        referenced_coordinates=coordinates or None,
    )


def _outline(m: RoiStatistics) -> tuple[str, np.ndarray]:
    shape = m.shape
    if isinstance(shape, Ellipse):
        return "ELLIPSE", _graphic([*shape.major, *shape.minor])
    return "POLYLINE", _graphic([*shape.vertices, shape.vertices[0]])


def _graphic(points: Sequence[Point]) -> np.ndarray:
    """``(row, col)`` pixel centres -> SCOORD ``(column, row)`` from the top-left corner."""
    return np.array([(col + 0.5, row + 0.5) for row, col in points], dtype=np.float64)


def _source(image: ImageReference) -> hd.sr.SourceImageForRegion:
    return hd.sr.SourceImageForRegion(
        referenced_sop_class_uid=image.sop_class_uid,
        referenced_sop_instance_uid=image.sop_instance_uid,
        referenced_frame_numbers=None if image.frame is None else [image.frame],
    )
