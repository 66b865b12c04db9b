"""Coded concepts that :mod:`workbench.measure.sr` writes and reads (PS3.16).

Measurement names come from SNOMED CT where DICOM's measurement templates use them
(CID 7469 generic intensity and size measurements, CID 7470 linear, CID 7472 area,
CID 7464 ROI statistics); the few concepts no standard scheme names (a pixel count,
a pixel value without a defined quantity, the calibration) use the private coding
scheme ``99WORKBENCH`` (PS3.16 8.2: designators starting ``99`` are private).
"""

from __future__ import annotations

import re

from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

from workbench.measure.calibration import Calibration, CalibrationKind

SCHEME = "99WORKBENCH"
TRACKING_PREFIX = "workbench:"
"""Tracking Identifiers we write are ``workbench:<tool>``, the drawing tool's name."""

LENGTH = codes.SCT.Length
LONG_AXIS = codes.SCT.LongAxis
SHORT_AXIS = codes.SCT.ShortAxis
ANGLE = codes.SCT.Angle
COBB_ANGLE = codes.SCT.CobbAngle
AREA = codes.SCT.Area
MEAN = codes.SCT.Mean
STANDARD_DEVIATION = codes.SCT.StandardDeviation
MINIMUM = codes.SCT.Minimum
MAXIMUM = codes.SCT.Maximum
MEDIAN = codes.SCT.Median
PIXEL_COUNT = Code("PIXEL_COUNT", SCHEME, "Number of pixels")
PIXEL_VALUE = Code("PIXEL_VALUE", SCHEME, "Pixel value")
ATTENUATION = codes.DCM.AttenuationCoefficient
PROBE_NAMES = (ATTENUATION, PIXEL_VALUE)

ROI_STATISTICS = {
    "mean": MEAN, "std": STANDARD_DEVIATION, "minimum": MINIMUM,
    "maximum": MAXIMUM, "median": MEDIAN,
}  # fmt: skip
"""Field of :class:`~workbench.measure.roi.RoiStatistics` -> NUM concept name."""

PROCEDURES: dict[str, Code] = {
    "CT": codes.cid100.CTUnspecifiedBodyRegion,
    "MR": codes.cid100.MRIUnspecifiedBodyRegion,
    "NM": codes.cid100.NMUnspecifiedBodyRegion,
    "PT": codes.cid100.PETUnspecifiedBodyRegion,
    **dict.fromkeys(("CR", "DX", "MG", "XA", "RF", "IO"), codes.cid100.XRUnspecifiedBodyRegion),
}
"""Modality -> Procedure Reported (CID 100); others report "Imaging procedure"."""
IMAGING_PROCEDURE = codes.cid100.ImagingProcedure

_LABELS = {
    CalibrationKind.PIXEL_SPACING: "Pixel Spacing",
    CalibrationKind.GEOMETRY: "Geometry",
    CalibrationKind.FIDUCIAL: "Fiducial",
    CalibrationKind.CALIBRATED: "Calibrated",
    CalibrationKind.MAGNIFICATION_CORRECTED: "ERMF",
    CalibrationKind.DETECTOR: "Detector",
    CalibrationKind.SCANNED: "Scanned",
    CalibrationKind.ULTRASOUND_REGION: "US region",
    CalibrationKind.USER: "User",
    CalibrationKind.VOLUME: "Volume",
    CalibrationKind.PIXELS: "Pixels",
}
_MEANING = re.compile(r"(?P<row>\S+) x (?P<col>\S+) (?P<unit>\S+)$")


def calibration_code(calibration: Calibration) -> Code:
    """Return the Measurement Method code that records `calibration` exactly.

    The code value is the kind; the meaning (at most 64 characters, DICOM LO) reads
    ``"<kind> <row spacing> x <column spacing> <unit>"`` with the spacings written by
    ``repr``, so that they come back bit for bit.
    """
    spacing = f"{calibration.row_spacing!r} x {calibration.column_spacing!r} {calibration.unit}"
    meaning = f"{_LABELS[calibration.kind]} {spacing}"
    return Code(calibration.kind.value, SCHEME, meaning if len(meaning) <= 64 else spacing)


def calibration_from_code(value: str, scheme: str, meaning: str) -> Calibration | None:
    """Return the calibration that :func:`calibration_code` wrote, else ``None``."""
    match = _MEANING.search(meaning)
    if scheme != SCHEME or match is None or value not in CalibrationKind._value2member_map_:
        return None
    kind = CalibrationKind(value)
    return Calibration(kind, float(match["row"]), float(match["col"]), match["unit"],
                       detail=f"from SR: {meaning}")

