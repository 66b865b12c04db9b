"""Single-frame cross-sectional series: CT Image Storage and MR Image Storage."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset

from workbench.demo._base import (
    Template,
    base_dataset,
    check_size,
    ds_list,
    ds_str,
    finish,
    make_uid,
    pixel_module,
    series_info,
    study_info,
)
from workbench.demo._seed import seeded_rng
from workbench.demo.patients import DemoPatient
from workbench.demo.phantoms import ChestPhantom, Grid, HeadPhantom, NoiseBank

__all__ = ["CT_IMAGE_STORAGE", "MR_IMAGE_STORAGE", "iter_ct_series", "mr_series", "ct_series"]

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"

# Hounsfield units per label of phantoms.CHEST_LABELS / HEAD_LABELS
_HU_CHEST = (-1000, -100, 40, -820, 30, 45, 170, 900, 320, 60, 200, 700)
_HU_HEAD = (-1000, -30, 1200, 8, 40, 28, 8, 10, 500, -90)
# T1-weighted spin-echo signal per label of phantoms.HEAD_LABELS
_MR_T1_HEAD = (0, 720, 40, 140, 430, 610, 140, 110, 560, 820)
_HEAD_PARTS = ("HEAD", "BRAIN", "SKULL")
_INTERCEPT = -1024


def _plane(
    ds: Dataset,
    *,
    k: int,
    n: int,
    spacing: float,
    rows: int,
    columns: int,
    pixel_spacing: float,
) -> None:
    """Set the Image Plane attributes of slice `k` of an axial stack (cranial first)."""
    z = (n - 1) * spacing / 2 - k * spacing
    x0 = -pixel_spacing * (columns - 1) / 2
    y0 = -pixel_spacing * (rows - 1) / 2
    ds.ImagePositionPatient = ds_list([x0, y0, z])
    ds.SliceLocation = ds_str(z)
    ds.InstanceNumber = k + 1


def _common_plane_template(
    ds: Dataset,
    *,
    rows: int,
    columns: int,
    pixel_spacing: float,
    slice_thickness: float,
    spacing: float,
    for_uid: str,
) -> None:
    ds.FrameOfReferenceUID = for_uid
    ds.PositionReferenceIndicator = ""
    ds.PatientPosition = "HFS"
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.PixelSpacing = ds_list([pixel_spacing, pixel_spacing])
    ds.SliceThickness = ds_str(slice_thickness)
    ds.SpacingBetweenSlices = ds_str(spacing)
    ds.AcquisitionNumber = 1
    ds.AcquisitionDate = ds.StudyDate
    ds.ContentDate = ds.StudyDate
    ds.AcquisitionTime = ds.SeriesTime
    ds.ContentTime = ds.SeriesTime
    ds.LossyImageCompression = "00"
    ds.BurnedInAnnotation = "NO"


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
    check_size("n_slices", n_slices, 1, 100000)
    check_size("Rows", rows, 8)
    check_size("Columns", columns, 8)
    spacing = slice_thickness if spacing_between_slices is None else spacing_between_slices
    head = body_part.upper() in _HEAD_PARTS
    study = study_info(
        patient,
        seed=seed,
        study_uid=study_uid,
        study_date=study_date,
        study_time=study_time,
        accession=accession,
        study_description=study_description,
        referring_physician=referring_physician,
    )
    series = series_info(
        study,
        seed=seed,
        modality="CT",
        number=series_number,
        description=description or f"AXIAL {slice_thickness:g}mm {body_part}",
        body_part=body_part,
        model="SYNTH-CT 64",
    )
    tpl = base_dataset(CT_IMAGE_STORAGE, patient, study, series)
    tpl.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    _common_plane_template(
        tpl,
        rows=rows,
        columns=columns,
        pixel_spacing=pixel_spacing,
        slice_thickness=slice_thickness,
        spacing=spacing,
        for_uid=make_uid("for", series.uid),
    )
    pixel_module(tpl, rows=rows, columns=columns, bits_allocated=16, bits_stored=12)
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

    template = Template(tpl)
    rng = seeded_rng(seed, 1)
    grid = Grid(rows, columns)
    phantom = HeadPhantom(grid, rng) if head else ChestPhantom(grid, rng)
    lut = np.asarray(_HU_HEAD if head else _HU_CHEST, dtype=np.int16) - np.int16(_INTERCEPT)
    noise = NoiseBank(rng, (rows, columns), sigma=9.0, limit=24.0)
    last_labels: npt.NDArray[np.uint8] | None = None
    base = np.zeros((rows, columns), dtype=np.int16)
    for k in range(n_slices):
        labels = phantom.labels(k / max(n_slices - 1, 1))
        if labels is not last_labels:
            base = lut[labels]
            last_labels = labels
        pixels = base + noise.window(rng)
        ds = template.new()
        _plane(
            ds,
            k=k,
            n=n_slices,
            spacing=spacing,
            rows=rows,
            columns=columns,
            pixel_spacing=pixel_spacing,
        )
        ds.PixelData = pixels.astype("<u2", copy=False).tobytes()
        yield finish(ds, make_uid("sop", series.uid, k + 1))


def ct_series(
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
) -> list[Dataset]:
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
    """
    return list(
        iter_ct_series(
            patient,
            seed=seed,
            n_slices=n_slices,
            rows=rows,
            columns=columns,
            pixel_spacing=pixel_spacing,
            slice_thickness=slice_thickness,
            spacing_between_slices=spacing_between_slices,
            study_uid=study_uid,
            study_date=study_date,
            study_time=study_time,
            accession=accession,
            study_description=study_description,
            referring_physician=referring_physician,
            body_part=body_part,
            series_number=series_number,
            description=description,
        )
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
    check_size("n_slices", n_slices, 1, 100000)
    check_size("Rows", rows, 8)
    check_size("Columns", columns, 8)
    study = study_info(
        patient,
        seed=seed,
        study_uid=study_uid,
        study_date=study_date,
        study_time=study_time,
        accession=accession,
        study_description=study_description,
        referring_physician=referring_physician,
    )
    series = series_info(
        study,
        seed=seed,
        modality="MR",
        number=series_number,
        description=description,
        body_part=body_part,
        model="SYNTH-MR 1.5T",
    )
    tpl = base_dataset(MR_IMAGE_STORAGE, patient, study, series)
    tpl.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
    _common_plane_template(
        tpl,
        rows=rows,
        columns=columns,
        pixel_spacing=pixel_spacing,
        slice_thickness=slice_thickness,
        spacing=spacing_between_slices,
        for_uid=make_uid("for", series.uid),
    )
    pixel_module(tpl, rows=rows, columns=columns, bits_allocated=16, bits_stored=12)
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

    template = Template(tpl)
    rng = seeded_rng(seed, 2)
    grid = Grid(rows, columns)
    phantom = HeadPhantom(grid, rng)
    lut = np.asarray(_MR_T1_HEAD, dtype=np.float32)
    cu, cv = (float(x) for x in rng.uniform(-0.15, 0.15, size=2))
    bias = (1.0 + cu * grid.u + cv * grid.v - 0.08 * (grid.u**2 + grid.v**2)).astype(np.float32)
    sigma = np.float32(14.0)
    datasets: list[Dataset] = []
    for k in range(n_slices):
        t = k / max(n_slices - 1, 1)
        signal = lut[phantom.labels(t)] * bias
        re = signal + sigma * rng.standard_normal((rows, columns), dtype=np.float32)
        im = sigma * rng.standard_normal((rows, columns), dtype=np.float32)
        magnitude = np.clip(np.rint(np.hypot(re, im)), 0, 4095).astype("<u2")
        ds = template.new()
        _plane(
            ds,
            k=k,
            n=n_slices,
            spacing=spacing_between_slices,
            rows=rows,
            columns=columns,
            pixel_spacing=pixel_spacing,
        )
        ds.PixelData = magnitude.tobytes()
        datasets.append(finish(ds, make_uid("sop", series.uid, k + 1)))
    return datasets
