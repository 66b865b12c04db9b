"""Series with known geometry for the imaging tests, built on :func:`tests.synth.make_ct`.

Every image here stores a *linear field*: the value at a pixel is
``FIELD @ position + OFFSET`` (HU) of the pixel's LPS position, stored as
``round(10 * value)`` with Rescale Slope 0.1. Linear interpolation reproduces a
linear field exactly, so resampled and reformatted volumes can be checked against
the field itself, to within the storage rounding (0.05).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import UID, generate_uid

from tests.synth import make_ct
from workbench.imaging.geometry import PlaneGeometry, orthonormal_cosines

FIELD = np.array([0.5, -0.25, 1.0])
"""HU per mm along L, P and S."""
OFFSET = 1000.0
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def field(points: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The linear field at LPS points ``(..., 3)``."""
    return np.asarray(np.asarray(points, np.float64) @ FIELD + OFFSET, dtype=np.float64)


def tilted_orientation(degrees: float) -> tuple[float, ...]:
    """Image Orientation (Patient) of an axial slice tilted about the L axis (gantry tilt)."""
    t = math.radians(degrees)
    return (1.0, 0.0, 0.0, 0.0, math.cos(t), -math.sin(t))


def make_series(
    origins: Sequence[Sequence[float]],
    orientation: Sequence[float] = AXIAL,
    spacing: tuple[float, float] = (1.5, 1.0),
    rows: int = 12,
    columns: int = 10,
    *,
    seed: int = 1,
) -> list[Dataset]:
    """One CT slice per origin (LPS mm), in the order given, storing the linear field.

    Instance Numbers run 1, 2, ... in the order given, whatever the geometry.
    """
    slices = make_ct(n=len(origins), seed=seed, rows=max(rows, 8), columns=max(columns, 8))
    row, col = (np.asarray(v) for v in orthonormal_cosines(list(orientation)))
    for k, (ds, origin) in enumerate(zip(slices, origins, strict=True)):
        x, y, z = (float(v) for v in origin)
        plane = PlaneGeometry((x, y, z), tuple(row), tuple(col), spacing, rows, columns)  # type: ignore[arg-type]
        r, c = np.meshgrid(np.arange(rows), np.arange(columns), indexing="ij")
        stored = np.rint(field(plane.pixel_to_patient(r, c)) * 10.0)
        assert stored.min() >= 0 and stored.max() < 65536
        ds.Rows, ds.Columns = rows, columns
        ds.BitsStored, ds.HighBit = 16, 15
        ds.RescaleSlope, ds.RescaleIntercept = "0.1", "0"
        ds.ImageOrientationPatient = [f"{v:.10f}" for v in orientation]
        ds.ImagePositionPatient = [f"{v:.6f}" for v in origin]
        ds.PixelSpacing = [f"{v:g}" for v in spacing]
        ds.InstanceNumber = k + 1
        ds.SliceLocation = f"{z:.6f}"
        ds.PixelData = stored.astype("<u2").tobytes()
    return slices


def stack(
    distances: Sequence[float],
    orientation: Sequence[float] = AXIAL,
    shift: Sequence[float] = (0.0, 0.0, 0.0),
    first: Sequence[float] = (-5.0, -8.0, 20.0),
) -> list[list[float]]:
    """Origins at `distances` along the orientation's normal from `first`, plus
    ``k * shift`` for slice k (a shear, as a gantry tilt gives)."""
    row, col = (np.asarray(v) for v in orthonormal_cosines(list(orientation)))
    normal = np.cross(row, col)
    return [list(np.asarray(first) + d * normal + k * np.asarray(shift))
            for k, d in enumerate(distances)]  # fmt: skip


def gantry_tilted(n: int = 6, degrees: float = 15.0, step: float = 3.0) -> list[Dataset]:
    """A tilted stack as scanners write it: origins step along patient z only."""
    origins = [[-5.0, -8.0, 20.0 + k * step] for k in range(n)]
    return make_series(origins, tilted_orientation(degrees))


def enhanced(slices: Sequence[Dataset], slopes: Sequence[float] | None = None) -> Dataset:
    """One Enhanced CT Image built from single-frame `slices` (frames in the given order).

    Plane Position per frame, Plane Orientation and Pixel Measures shared, Pixel Value
    Transformation per frame; with `slopes`, frame k's stored values are rescaled so
    that ``stored x slopes[k]`` gives the same HU as before.
    """
    first = slices[0]
    ds = Dataset()
    ds.file_meta = first.file_meta
    ds.file_meta.MediaStorageSOPClassUID = UID("1.2.840.10008.5.1.4.1.1.2.1")
    for keyword in ("PatientID", "PatientName", "StudyInstanceUID", "SeriesInstanceUID",
                    "FrameOfReferenceUID", "Modality", "SamplesPerPixel",
                    "PhotometricInterpretation", "Rows", "Columns", "BitsAllocated",
                    "BitsStored", "HighBit", "PixelRepresentation"):  # fmt: skip
        setattr(ds, keyword, first[keyword].value)
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2.1"
    ds.SOPInstanceUID = generate_uid(entropy_srcs=[s.SOPInstanceUID for s in slices])
    ds.NumberOfFrames = len(slices)
    shared = Dataset()
    shared.PixelMeasuresSequence = DicomSequence([_item(
        PixelSpacing=first.PixelSpacing, SliceThickness=first.SliceThickness)])  # fmt: skip
    shared.PlaneOrientationSequence = DicomSequence(
        [_item(ImageOrientationPatient=first.ImageOrientationPatient)]
    )
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    frames, data = [], []
    for k, s in enumerate(slices):
        stored = np.frombuffer(s.PixelData, dtype="<u2").astype(np.float64)
        slope = 0.1 if slopes is None else slopes[k]
        data.append(np.rint(stored * 0.1 / slope).astype("<u2").tobytes())
        frames.append(_item(
            PlanePositionSequence=DicomSequence(
                [_item(ImagePositionPatient=s.ImagePositionPatient)]),
            PixelValueTransformationSequence=DicomSequence([_item(
                RescaleSlope=f"{slope:g}", RescaleIntercept="0", RescaleType="HU")]),
            FrameContentSequence=DicomSequence([_item(InStackPositionNumber=k + 1)]),
        ))  # fmt: skip
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(frames)
    ds.PixelData = b"".join(data)
    return ds


def _item(**values: object) -> Dataset:
    item = Dataset()
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return item
