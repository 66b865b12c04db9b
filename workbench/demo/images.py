"""Single-frame cross-sectional series: CT Image Storage and MR Image Storage."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import ParamSpec

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from workbench.demo._base import check_image, ds_str, half_extent
from workbench.demo._image import (
    AXIAL,
    Template,
    centred_position,
    content_timing,
    frame_of_reference,
    pixel_module,
    uncompressed,
    voxel_size,
)
from workbench.demo._modules import SeriesKind, Study, finish, new_series
from workbench.demo._seed import seeded_rng
from workbench.demo.patients import DemoPatient
from workbench.demo.phantoms import ChestPhantom, Grid, HeadPhantom, NoiseBank

__all__ = ["CT_IMAGE_STORAGE", "MR_IMAGE_STORAGE", "iter_ct_series", "mr_series", "ct_series"]

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
_CT = SeriesKind(CT_IMAGE_STORAGE, "CT", "SYNTH-CT 64")
_MR = SeriesKind(MR_IMAGE_STORAGE, "MR", "SYNTH-MR 1.5T")

# Hounsfield units per label of phantoms.CHEST_LABELS / HEAD_LABELS
_HU_CHEST = (-1000, -100, 40, -820, 30, 45, 170, 900, 320, 60, 200, 700)
_HU_HEAD = (-1000, -30, 1200, 8, 40, 28, 8, 10, 500, -90)
# T1-weighted spin-echo signal per label of phantoms.HEAD_LABELS
_MR_T1_HEAD = (0, 720, 40, 140, 430, 610, 140, 110, 560, 820)
_HEAD_PARTS = ("HEAD", "BRAIN", "SKULL")
_INTERCEPT = -1024

P = ParamSpec("P")


@dataclass(frozen=True)
class _Stack:
    """An axial stack of unsigned 12-bit slices centred on the z axis, cranial first.

    Creating one checks its size: 1 to 100000 slices of at least 8 x 8 pixels.
    """

    n_slices: int
    rows: int
    columns: int
    pixel_spacing: float
    slice_thickness: float
    spacing: float

    def __post_init__(self) -> None:
        check_image("n_slices", self.n_slices, 100000, self.rows, self.columns, 8)

    def depth(self, k: int) -> float:
        """Relative position 0..1 of slice `k` along the stack."""
        return k / max(self.n_slices - 1, 1)

    def describe(self, ds: Dataset) -> None:
        """Set the attributes every slice shares: frame of reference, orientation, voxel
        size, acquisition and Image Pixel.
        """
        frame_of_reference(ds)
        ds.PatientPosition = "HFS"
        ds.ImageOrientationPatient = list(AXIAL)
        voxel_size(ds, self.pixel_spacing, self.slice_thickness, self.spacing)
        ds.AcquisitionNumber = 1
        content_timing(ds, datetime=False)
        uncompressed(ds)
        pixel_module(ds, rows=self.rows, columns=self.columns, bits_allocated=16, bits_stored=12)

    def slices(self, template: Dataset, pixels: Iterable[bytes]) -> Iterator[Dataset]:
        """Yield copies of `template`, one per slice of `pixels`, placed and numbered."""
        copies = Template(template)
        for k, data in enumerate(pixels):
            ds = copies.new()
            z = half_extent(self.spacing, self.n_slices) - k * self.spacing
            ds.ImagePositionPatient = centred_position(
                self.pixel_spacing, self.rows, self.columns, z
            )
            ds.SliceLocation = ds_str(z)
            ds.PixelData = data
            yield finish(ds, k + 1)


def _as_list(
    generator: Callable[P, Iterator[Dataset]], name: str, doc: str
) -> Callable[P, list[Dataset]]:
    """Return a function of `generator`'s parameters that returns its datasets as a list."""

    def collect(*args: P.args, **kwargs: P.kwargs) -> list[Dataset]:
        return list(generator(*args, **kwargs))

    collect.__name__ = collect.__qualname__ = name
    collect.__doc__ = doc
    signature = inspect.signature(generator).replace(return_annotation="list[Dataset]")
    collect.__signature__ = signature  # type: ignore[attr-defined]
    return collect


def _ct_pixels(stack: _Stack, head: bool, rng: np.random.Generator) -> Iterator[bytes]:
    """Yield the Pixel Data of each CT slice: phantom labels mapped to HU, plus noise."""
    grid = Grid(stack.rows, stack.columns)
    phantom = HeadPhantom(grid, rng) if head else ChestPhantom(grid, rng)
    lut = np.asarray(_HU_HEAD if head else _HU_CHEST, dtype=np.int16) - np.int16(_INTERCEPT)
    noise = NoiseBank(rng, grid.shape, sigma=9.0, limit=24.0)
    last_labels: npt.NDArray[np.uint8] | None = None
    base = np.zeros(grid.shape, dtype=np.int16)
    for k in range(stack.n_slices):
        labels = phantom.labels(stack.depth(k))
        if labels is not last_labels:
            base = lut[labels]
            last_labels = labels
        pixels = base + noise.window(rng)
        yield pixels.astype("<u2", copy=False).tobytes()


def _mr_pixels(stack: _Stack, rng: np.random.Generator) -> Iterator[bytes]:
    """Yield the Pixel Data of each MR slice: T1 signal, coil bias and Rician noise."""
    grid = Grid(stack.rows, stack.columns)
    phantom = HeadPhantom(grid, rng)
    lut = np.asarray(_MR_T1_HEAD, dtype=np.float32)
    cu, cv = (float(x) for x in rng.uniform(-0.15, 0.15, size=2))
    bias = (1.0 + cu * grid.u + cv * grid.v - 0.08 * (grid.u**2 + grid.v**2)).astype(np.float32)
    sigma = np.float32(14.0)
    for k in range(stack.n_slices):
        signal = lut[phantom.labels(stack.depth(k))] * bias
        re = signal + sigma * rng.standard_normal(grid.shape, dtype=np.float32)
        im = sigma * rng.standard_normal(grid.shape, dtype=np.float32)
        yield np.clip(np.rint(np.hypot(re, im)), 0, 4095).astype("<u2").tobytes()


def iter_ct_series(
    patient: DemoPatient,
    *,
    seed: int,
    n_slices: int = 64,
    rows: int = 512,
    columns: int = 512,
    pixel_spacing: float = 0.7,
    slice_thickness: float = 2.5,
    spacing_between_slices: float | None = None,
    study_uid: str | None = None,
    study_date: str = "20260101",
    study_time: str = "090000",
    accession: str = "",
    study_description: str = "",
    referring_physician: str = "",
    body_part: str = "CHEST",
    series_number: int = 1,
    description: str = "",
) -> Iterator[Dataset]:
    """Yield the slices of :func:`ct_series` one at a time (constant memory).

    Parameters and returned datasets are those of :func:`ct_series`.
    """
    spacing = slice_thickness if spacing_between_slices is None else spacing_between_slices
    stack = _Stack(n_slices, rows, columns, pixel_spacing, slice_thickness, spacing)
    head = body_part.upper() in _HEAD_PARTS
    study = Study(
        study_uid, study_date, study_time, accession, study_description, referring_physician
    )
    description = description or f"AXIAL {slice_thickness:g}mm {body_part}"
    tpl = new_series(_CT, patient, seed, study, series_number, description, body_part)
    tpl.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    stack.describe(tpl)
    tpl.RescaleIntercept = str(_INTERCEPT)
    tpl.RescaleSlope = "1"
    tpl.RescaleType = "HU"
    if head:
        tpl.WindowCenter, tpl.WindowWidth = ["40", "600"], ["80", "2800"]
        tpl.WindowCenterWidthExplanation = ["BRAIN", "BONE"]
    else:
        tpl.WindowCenter, tpl.WindowWidth = ["40", "-600"], ["400", "1500"]
        tpl.WindowCenterWidthExplanation = ["MEDIASTINUM", "LUNG"]
    tpl.KVP = "120"
    tpl.DataCollectionDiameter = ds_str(500.0)
    tpl.ReconstructionDiameter = ds_str(pixel_spacing * max(rows, columns))
    tpl.GantryDetectorTilt = "0"
    tpl.TableHeight = "160"
    tpl.RotationDirection = "CW"
    tpl.ExposureTime = "500"
    tpl.XRayTubeCurrent = 200
    tpl.Exposure = 100
    tpl.ConvolutionKernel = "BONE" if head else "STANDARD"
    tpl.ScanOptions = "HELICAL MODE"
    yield from stack.slices(tpl, _ct_pixels(stack, head, seeded_rng(seed, 1)))


ct_series = _as_list(
    iter_ct_series,
    "ct_series",
    """Return an axial CT series of a digital phantom (CT Image Storage).

    The chest phantom has fat (-100 HU), soft tissue (40), lungs (-820) with vessels,
    a contrast-filled heart and aorta (170), vertebra (cortex 900, marrow 320), ribs
    (700), liver and table; ``body_part`` ``HEAD``/``BRAIN`` gives a head phantom.
    Pixels are unsigned 12-bit with Rescale Intercept -1024, slope 1.

    Parameters
    ----------
    patient
        Whose images these are.
    seed
        Fixes UIDs and pixels.
    n_slices, rows, columns
        Volume size; slice 1 is the most cranial, positions step down in z.
    pixel_spacing, slice_thickness
        In mm; `spacing_between_slices` defaults to the thickness.
    study_uid
        Study Instance UID; derived from seed, patient, date and accession when None.
    study_date, study_time, accession, study_description, referring_physician
        General Study attributes.
    body_part, series_number, description
        General Series attributes; an empty description is made up.

    Returns
    -------
    list of Dataset
        One dataset per slice, with file meta (Explicit VR Little Endian).
    """,
)


def mr_series(
    patient: DemoPatient,
    *,
    seed: int,
    n_slices: int = 24,
    rows: int = 256,
    columns: int = 256,
    pixel_spacing: float = 0.9,
    slice_thickness: float = 5.0,
    spacing_between_slices: float = 6.0,
    study_uid: str | None = None,
    study_date: str = "20260101",
    study_time: str = "090000",
    accession: str = "",
    study_description: str = "",
    referring_physician: str = "",
    body_part: str = "HEAD",
    series_number: int = 1,
    description: str = "AX T1 SE",
) -> list[Dataset]:
    """Return an axial T1-weighted MR series of a head phantom (MR Image Storage).

    Pixels are unsigned 12-bit magnitudes with a smooth coil bias and Rician noise.

    Parameters
    ----------
    patient, seed
        As for :func:`ct_series`.
    n_slices, rows, columns, pixel_spacing, slice_thickness, spacing_between_slices
        Geometry; slice 1 is near the vertex, positions step down in z.
    study_uid, study_date, study_time, accession, study_description, referring_physician
        As for :func:`ct_series`.
    body_part, series_number, description
        General Series attributes.

    Returns
    -------
    list of Dataset
        One dataset per slice.
    """
    stack = _Stack(n_slices, rows, columns, pixel_spacing, slice_thickness, spacing_between_slices)
    study = Study(
        study_uid, study_date, study_time, accession, study_description, referring_physician
    )
    tpl = new_series(_MR, patient, seed, study, series_number, description, body_part)
    tpl.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
    stack.describe(tpl)
    tpl.ScanningSequence = "SE"
    tpl.SequenceVariant = "SP"
    tpl.ScanOptions = ""
    tpl.MRAcquisitionType = "2D"
    tpl.SequenceName = "se2d1"
    tpl.AngioFlag = "N"
    tpl.RepetitionTime = "500"
    tpl.EchoTime = "12"
    tpl.EchoTrainLength = 1
    tpl.EchoNumbers = [1]
    tpl.NumberOfAverages = "1"
    tpl.ImagingFrequency = "63.87"
    tpl.ImagedNucleus = "1H"
    tpl.MagneticFieldStrength = "1.5"
    tpl.FlipAngle = "90"
    tpl.PixelBandwidth = "130"
    tpl.ReceiveCoilName = "HEAD"
    tpl.WindowCenter = "420"
    tpl.WindowWidth = "900"
    return list(stack.slices(tpl, _mr_pixels(stack, seeded_rng(seed, 2))))
