"""Multi-frame cine instances: an echocardiogram (US) and a coronary angiogram (XA)."""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from workbench.demo._base import ds_list, ds_str
from workbench.demo._image import content_timing, multi_frame, pixel_module, uncompressed
from workbench.demo._modules import SeriesKind, Study, finish, new_series
from workbench.demo._render import Loop, Sector, render_angio, render_echo
from workbench.demo._seed import seeded_rng
from workbench.demo.patients import DemoPatient

__all__ = ["US_MULTIFRAME_IMAGE_STORAGE", "XA_IMAGE_STORAGE", "us_cine", "xa_cine"]

US_MULTIFRAME_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.3.1"
XA_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.12.1"
_US = SeriesKind(US_MULTIFRAME_IMAGE_STORAGE, "US", "SYNTH-US S5")
_XA = SeriesKind(XA_IMAGE_STORAGE, "XA", "SYNTH-XA 20")


def _cine_image(ds: Dataset, loop: Loop) -> None:
    """Set General Image, Multi-frame and Cine attributes (frames step in Frame Time)."""
    ds.PatientOrientation = ""
    content_timing(ds, datetime=True)
    uncompressed(ds)
    multi_frame(ds, loop.n_frames, "FrameTime")
    ds.FrameTime = ds_str(loop.frame_time_ms)
    ds.CineRate = round(loop.frame_rate)
    ds.RecommendedDisplayFrameRate = round(loop.frame_rate)
    ds.ActualFrameDuration = round(loop.frame_time_ms)
    ds.StartTrim = 1
    ds.StopTrim = loop.n_frames
    ds.PreferredPlaybackSequencing = 0


def _region(sector: Sector, depth_cm: float, frequency_khz: int) -> Dataset:
    """Return the tissue region of the Ultrasound Region Calibration module."""
    x0, y0, x1, y1 = sector.bounds
    delta = depth_cm / sector.radius
    region = Dataset()
    region.RegionSpatialFormat = 1  # 2D
    region.RegionDataType = 1  # tissue
    region.RegionFlags = 0
    region.RegionLocationMinX0 = x0
    region.RegionLocationMinY0 = y0
    region.RegionLocationMaxX1 = x1
    region.RegionLocationMaxY1 = y1
    region.PhysicalUnitsXDirection = 3  # cm
    region.PhysicalUnitsYDirection = 3
    region.PhysicalDeltaX = delta
    region.PhysicalDeltaY = delta
    region.ReferencePixelX0 = round(sector.apex_x) - x0
    region.ReferencePixelY0 = round(sector.apex_y) - y0
    region.ReferencePixelPhysicalValueX = 0.0
    region.ReferencePixelPhysicalValueY = 0.0
    region.TransducerFrequency = frequency_khz
    return region


def us_cine(
    patient: DemoPatient,
    *,
    seed: int,
    n_frames: int = 30,
    rows: int = 480,
    columns: int = 640,
    frame_rate: float = 30.0,
    heart_rate: float = 72.0,
    depth_cm: float = 16.0,
    study_uid: str | None = None,
    study_date: str = "20260101",
    study_time: str = "090000",
    accession: str = "",
    study_description: str = "",
    referring_physician: str = "",
    body_part: str = "HEART",
    series_number: int = 1,
    description: str = "ECHO A4C",
) -> Dataset:
    """Return an apical four-chamber echo loop (Ultrasound Multi-frame Image Storage).

    RGB (Planar Configuration 0) frames of a beating sector image with an ECG trace;
    Frame Time and Cine Rate from `frame_rate`, Frame Increment Pointer to Frame Time,
    and one tissue region in the Sequence of Ultrasound Regions whose Physical Delta X/Y
    (cm per pixel, units code 3) map the sector radius to `depth_cm`.

    Parameters
    ----------
    patient, seed
        Whose images; the seed fixes UIDs and pixels.
    n_frames, rows, columns
        Size of the loop.
    frame_rate, heart_rate
        Frames per second; beats per minute of the phantom.
    depth_cm
        Imaging depth shown by the sector.
    study_uid, study_date, study_time, accession, study_description, referring_physician
        General Study attributes (see :func:`workbench.demo.ct_series`).
    body_part, series_number, description
        General Series attributes.

    Returns
    -------
    Dataset
        One multi-frame instance, with file meta.
    """
    loop = Loop(n_frames, rows, columns, frame_rate, heart_rate)
    if frame_rate <= 0 or depth_cm <= 0:
        raise ValueError("frame_rate and depth_cm must be positive")
    study = Study(
        study_uid, study_date, study_time, accession, study_description, referring_physician
    )
    ds = new_series(_US, patient, seed, study, series_number, description, body_part)
    pixel_module(ds, rows=rows, columns=columns, bits_allocated=8, bits_stored=8, photometric="RGB")
    ds.ImageType = ["ORIGINAL", "PRIMARY", "TTE", "0001"]
    _cine_image(ds, loop)
    ds.HeartRate = round(heart_rate)
    ds.TransducerType = "SECTOR_PHASED"
    frames, sector = render_echo(loop, seeded_rng(seed, 3))
    ds.SequenceOfUltrasoundRegions = Sequence([_region(sector, depth_cm, 2500)])
    ds.PixelData = frames.tobytes()
    return finish(ds, 1)


def xa_cine(
    patient: DemoPatient,
    *,
    seed: int,
    n_frames: int = 30,
    rows: int = 512,
    columns: int = 512,
    frame_rate: float = 15.0,
    heart_rate: float = 72.0,
    imager_pixel_spacing: float = 0.36,
    source_to_detector: float = 1100.0,
    source_to_patient: float = 760.0,
    primary_angle: float = -30.0,
    secondary_angle: float = 20.0,
    study_uid: str | None = None,
    study_date: str = "20260101",
    study_time: str = "090000",
    accession: str = "",
    study_description: str = "",
    referring_physician: str = "",
    body_part: str = "HEART",
    series_number: int = 1,
    description: str = "LCA RAO 30 CRA 20",
) -> Dataset:
    """Return a left coronary angiography run (X-Ray Angiographic Image Storage).

    MONOCHROME2 8-bit frames in which contrast fills a moving vessel tree, with Frame
    Time, Imager Pixel Spacing, Distance Source to Detector/Patient, Estimated
    Radiographic Magnification Factor (their ratio) and a circular display shutter.

    Parameters
    ----------
    patient, seed
        Whose images; the seed fixes UIDs and pixels.
    n_frames, rows, columns, frame_rate, heart_rate
        Size and timing of the run.
    imager_pixel_spacing
        Detector pixel size in mm.
    source_to_detector, source_to_patient
        Distances in mm; the magnification factor is their ratio.
    primary_angle, secondary_angle
        Positioner angles in degrees (negative primary is RAO, positive secondary CRA).
    study_uid, study_date, study_time, accession, study_description, referring_physician
        General Study attributes (see :func:`workbench.demo.ct_series`).
    body_part, series_number, description
        General Series attributes.

    Returns
    -------
    Dataset
        One multi-frame instance, with file meta.
    """
    loop = Loop(n_frames, rows, columns, frame_rate, heart_rate)
    if frame_rate <= 0 or not 0 < source_to_patient < source_to_detector:
        raise ValueError("need frame_rate > 0 and 0 < source_to_patient < source_to_detector")
    study = Study(
        study_uid, study_date, study_time, accession, study_description, referring_physician
    )
    ds = new_series(_XA, patient, seed, study, series_number, description, body_part)
    pixel_module(ds, rows=rows, columns=columns, bits_allocated=8, bits_stored=8)
    ds.ImageType = ["ORIGINAL", "PRIMARY", "SINGLE PLANE"]
    _cine_image(ds, loop)
    ds.PixelIntensityRelationship = "LIN"
    ds.KVP = "80"
    ds.RadiationSetting = "GR"
    ds.XRayTubeCurrent = 600
    ds.ExposureTime = 7
    ds.Exposure = 4
    ds.ImagerPixelSpacing = ds_list([imager_pixel_spacing, imager_pixel_spacing])
    ds.DistanceSourceToDetector = ds_str(source_to_detector)
    ds.DistanceSourceToPatient = ds_str(source_to_patient)
    ds.EstimatedRadiographicMagnificationFactor = ds_str(source_to_detector / source_to_patient)
    ds.PositionerMotion = "STATIC"
    ds.PositionerPrimaryAngle = ds_str(primary_angle)
    ds.PositionerSecondaryAngle = ds_str(secondary_angle)
    field = imager_pixel_spacing * min(rows, columns)
    ds.IntensifierSize = ds_str(field)
    ds.FieldOfViewShape = "ROUND"
    ds.FieldOfViewDimensions = [round(field)]
    ds.ContrastBolusAgent = "IOPAMIDOL 370"
    ds.ContrastBolusRoute = "INTRA-ARTERIAL"
    frames, radius = render_angio(loop, seeded_rng(seed, 4))
    ds.ShutterShape = "CIRCULAR"
    ds.CenterOfCircularShutter = [rows // 2, columns // 2]
    ds.RadiusOfCircularShutter = int(radius)
    ds.PixelData = frames.tobytes()
    return finish(ds, 1)
