"""What an annotation holds, measured by the library: request schema, measuring, JSON.

A client sends the drawn points in image pixels, ``(row, col)`` zero-based with integers
at pixel centres (the convention of :mod:`workbench.measure`), on one frame of one
instance. The archive measures them itself with :mod:`workbench.measure` on the stored
image (calibration from the header, or the user's calibration when given; pixel values
through the modality LUT for probes and ROI statistics), so the stored numbers are
always the library's. Points per kind:

=============  ==========================================================================
length         2: the endpoints
angle          3: end of the first arm, vertex, end of the second arm
cobb           4: two lines of 2 points
bidirectional  4: two axes of 2 points (stored long axis first)
ellipse        2 (corners of the axis-aligned box) or 4 (endpoints of the two axes, as
               DICOM SCOORD ELLIPSE; stored major axis first)
rectangle      2: opposite corners
polygon        3 or more vertices (freehand likewise)
probe          1
arrow          2: tail, head (no measurement)
text           1: anchor; the label is the text (no measurement)
=============  ==========================================================================

The measurement JSON: ``{"tool", "quantities": [{"name", "value", "unit"}],
"calibration": {"kind", "row_spacing", "column_spacing", "unit", "slice_spacing",
"detail"}}`` plus ``"index"`` (the pixel read) for probes.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, Field
from pydicom.dataset import Dataset

from workbench.dicom.frames import decode_frame
from workbench.errors import MissingAttributeError
from workbench.imaging.lut import apply_modality_lut, modality_units
from workbench.imaging.planes import plane_geometry
from workbench.measure import (
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
    RoiStatistics,
    calibration_from_dataset,
    measure_angle,
    measure_bidirectional,
    measure_cobb_angle,
    measure_length,
    probe,
    roi_statistics,
    tool_name,
)

Kind = Literal["length", "angle", "cobb", "bidirectional", "ellipse", "rectangle", "polygon",
               "freehand", "probe", "arrow", "text"]
KINDS: tuple[str, ...] = Kind.__args__  # type: ignore[attr-defined]
MARKS = frozenset({"arrow", "text"})
"""Kinds that are drawn, not measured."""
_COUNTS = {"length": (2,), "angle": (3,), "cobb": (4,), "bidirectional": (4,),
           "ellipse": (2, 4), "rectangle": (2,), "probe": (1,), "arrow": (2,), "text": (1,)}
MAX_POINTS = 4096
UID = Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)*$", max_length=64)]
Coordinate = Annotated[float, Field(allow_inf_nan=False, ge=-1e6, le=1e6)]
Spacing = Annotated[float, Field(allow_inf_nan=False, gt=0, le=1e4)]


class UserCalibrationIn(BaseModel):
    """A calibration the reader made against a known length (mm between pixel centres)."""

    row_spacing: Spacing
    column_spacing: Spacing


class AnnotationIn(BaseModel):
    """An annotation as a client draws it (see the module docstring for the points)."""

    kind: Kind
    series_uid: UID
    sop_instance_uid: UID
    frame: int | None = Field(None, ge=1, le=2**31 - 1,
                              description="one-based frame of a multi-frame image")
    points: list[tuple[Coordinate, Coordinate]] = Field(
        min_length=1, max_length=MAX_POINTS, description="(row, col) image pixels")
    label: str = Field("", max_length=200)
    calibration: UserCalibrationIn | None = Field(
        None, description="the reader's own calibration; the image's otherwise")


def check_points(body: AnnotationIn, ds: Dataset) -> int | None:
    """Check the point count and that every point lies on the image; the frame to use.

    Raises
    ------
    ValueError
        Wrong number of points for the kind, a point off the image, a frame beyond
        NumberOfFrames, a multi-frame image without a frame, a text without label.
    """
    counts = _COUNTS.get(body.kind)
    n = len(body.points)
    if counts is not None and n not in counts:
        raise ValueError(f"a {body.kind} has {' or '.join(map(str, counts))} points, got {n}")
    if counts is None and n < 3:
        raise ValueError(f"a {body.kind} needs at least 3 points, got {n}")
    if body.kind == "text" and not body.label.strip():
        raise ValueError("a text annotation needs its text as the label")
    frames = int(ds.get("NumberOfFrames") or 1)
    if body.frame is not None and body.frame > frames:
        raise ValueError(f"frame {body.frame} is beyond NumberOfFrames {frames}")
    if body.frame is None and frames > 1:
        raise ValueError(f"the image has {frames} frames: say which one (frame)")
    rows, columns = int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)
    for row, col in body.points:
        if not (-0.5 <= row <= rows - 0.5 and -0.5 <= col <= columns - 0.5):
            raise ValueError(f"point ({row}, {col}) lies outside the {rows} x {columns} image")
    return body.frame


def measure(body: AnnotationIn, ds: Dataset, frame: int | None) -> PlanarMeasurement | None:
    """Measure `body` on `ds` (a header; whole dataset for probes and ROIs) with the library.

    Returns ``None`` for arrows and text. Raises ``ValueError`` naming what is wrong
    (e.g. a degenerate ellipse, a colour image for ROI statistics).
    """
    if body.kind in MARKS:
        return None
    p = [(float(r), float(c)) for r, c in body.points]
    image = ImageReference.from_dataset(ds, frame)
    cal = (Calibration(CalibrationKind.USER, body.calibration.row_spacing,
                       body.calibration.column_spacing, "mm", detail="the reader's calibration")
           if body.calibration else calibration_from_dataset(ds, p, frame=frame or 1))
    match body.kind:
        case "length":
            return measure_length(p[0], p[1], cal, image=image)
        case "angle":
            return measure_angle(p[0], p[1], p[2], cal, image=image)
        case "cobb":
            return measure_cobb_angle(p[:2], p[2:], cal, image=image)
        case "bidirectional":
            return measure_bidirectional(p[:2], p[2:], cal, image=image)
    values, units = _modality_values(ds, frame or 1)
    if body.kind == "probe":
        return probe(values, p[0], cal, units=units, image=image)
    return roi_statistics(values, _shape(body.kind, p), cal, units=units, image=image)


def needs_pixels(kind: str) -> bool:
    """Whether measuring `kind` reads pixel values (probe and ROI statistics)."""
    return kind not in MARKS and kind not in ("length", "angle", "cobb", "bidirectional")


def patient_points(ds: Dataset, frame: int | None, points: list[list[float]]
                   ) -> list[list[float]] | None:
    """The ``(row, col)`` points in patient LPS mm, or ``None`` without a plane geometry."""
    try:
        plane = plane_geometry(ds, frame or 1)
    except (MissingAttributeError, ValueError, TypeError, AttributeError):
        return None
    rows = np.array([p[0] for p in points], dtype=np.float64)
    cols = np.array([p[1] for p in points], dtype=np.float64)
    mm = np.asarray(plane.pixel_to_patient(rows, cols)).tolist()
    return [[float(v) for v in p] for p in mm]


def points_of(m: PlanarMeasurement) -> list[list[float]]:
    """The measured points ``[[row, col], ...]`` in the order the module docstring gives."""
    match m:
        case LinearMeasurement() | AngleMeasurement():
            pts: list[Any] = list(m.points)
        case CobbAngleMeasurement():
            pts = [*m.lines[0], *m.lines[1]]
        case BidirectionalMeasurement():
            pts = [*m.long_axis, *m.short_axis]
        case ProbeMeasurement():
            pts = [m.point]
        case RoiStatistics(shape=Ellipse() as e):
            pts = [*e.major, *e.minor]
        case RoiStatistics(shape=Rectangle() as r):
            pts = [r.corner0, r.corner1]
        case RoiStatistics(shape=Polygon() as poly):
            pts = list(poly.vertices)
    return [[float(r), float(c)] for r, c in pts]


def measurement_json(m: PlanarMeasurement) -> dict[str, Any]:
    """The JSON form of a measurement result (see the module docstring)."""
    cal = m.calibration
    out: dict[str, Any] = {
        "tool": tool_name(m),
        "quantities": [{"name": q.name, "value": _number(q.value), "unit": q.unit}
                       for q in m.quantities()],
        "calibration": {"kind": cal.kind.value, "row_spacing": cal.row_spacing,
                        "column_spacing": cal.column_spacing, "unit": cal.unit,
                        "slice_spacing": cal.slice_spacing, "detail": cal.detail},
    }
    if isinstance(m, ProbeMeasurement):
        out["index"] = list(m.index)
    return out


def measurement_from_json(kind: str, points: list[list[float]], data: dict[str, Any],
                          image: ImageReference) -> PlanarMeasurement:
    """Rebuild the library's result from stored JSON (the inverse of :func:`measurement_json`).

    Raises
    ------
    ValueError
        The JSON does not hold what `kind` needs.
    """
    c = data["calibration"]
    cal = Calibration(CalibrationKind(c["kind"]), float(c["row_spacing"]),
                      float(c["column_spacing"]), str(c["unit"]), c.get("slice_spacing"),
                      str(c.get("detail", "")))
    q = {item["name"]: item for item in data["quantities"]}

    def value(name: str) -> float:
        if name not in q:
            raise ValueError(f"the stored {kind} has no {name!r} quantity")
        number = q[name]["value"]
        return math.nan if number is None else float(number)

    p = [(float(r), float(c)) for r, c in points]
    match kind:
        case "length":
            return LinearMeasurement((p[0], p[1]), value("length"), q["length"]["unit"], cal,
                                     image)
        case "angle":
            return AngleMeasurement((p[0], p[1], p[2]), value("angle"), q["angle"]["unit"], cal,
                                    image)
        case "cobb":
            return CobbAngleMeasurement(((p[0], p[1]), (p[2], p[3])), value("cobb angle"),
                                        q["cobb angle"]["unit"], cal, image)
        case "bidirectional":
            return BidirectionalMeasurement((p[0], p[1]), (p[2], p[3]), value("long axis"),
                                            value("short axis"), q["long axis"]["unit"], cal,
                                            image)
        case "probe":
            index = data["index"]
            return ProbeMeasurement(p[0], (int(index[0]), int(index[1])), value("value"),
                                    q["value"]["unit"], cal, image)
    shape = (Ellipse((p[0], p[1]), (p[2], p[3])) if kind == "ellipse"
             else _shape(kind, p))
    return RoiStatistics(
        shape=shape, area=value("area"), area_unit=q["area"]["unit"],
        pixel_count=int(value("pixel count")), mean=value("mean"),
        std=value("standard deviation"), minimum=value("minimum"), maximum=value("maximum"),
        median=value("median"), unit=q["mean"]["unit"], calibration=cal, image=image)


def _shape(kind: str, p: list[tuple[float, float]]) -> Ellipse | Rectangle | Polygon:
    if kind == "ellipse":
        if len(p) == 2:
            return Ellipse.from_box(p[0], p[1])
        first, second = (p[0], p[1]), (p[2], p[3])
        if math.dist(*second) > math.dist(*first):
            first, second = second, first
        return Ellipse(first, second)
    if kind == "rectangle":
        return Rectangle(p[0], p[1])
    return (Freehand if kind == "freehand" else Polygon).from_points(p)


def _modality_values(ds: Dataset, frame: int) -> tuple[np.ndarray[Any, Any], str]:
    stored, interpretation = decode_frame(ds, frame)
    if stored.ndim != 2 or interpretation not in ("MONOCHROME1", "MONOCHROME2"):
        raise ValueError(f"PhotometricInterpretation {interpretation}: probes and ROI "
                         "statistics need a grey-scale image (colour pixels have no single value)")
    return apply_modality_lut(stored, ds, frame), modality_units(ds, frame)


def _number(value: float) -> float | None:
    """JSON has no NaN: a value that is not finite is written as ``null``."""
    return float(value) if math.isfinite(value) else None
