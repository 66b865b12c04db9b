"""Nuclear medicine: a stress/rest myocardial perfusion SPECT (NM Image Storage)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from workbench.demo._base import add_seconds, check_size, ds_str, half_extent
from workbench.demo._image import (
    AXIAL,
    centred_position,
    content_timing,
    frame_of_reference,
    multi_frame,
    pixel_module,
    uncompressed,
    voxel_size,
)
from workbench.demo._modules import SeriesKind, Study, code_item, finish, new_series
from workbench.demo._seed import seeded_rng
from workbench.demo.patients import DemoPatient

__all__ = ["NM_IMAGE_STORAGE", "nm_study", "perfusion_volume"]

NM_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.20"
_NM = SeriesKind(NM_IMAGE_STORAGE, "NM", "SYNTH-NM DUAL HEAD")
F64 = npt.NDArray[np.float64]


def _smooth(volume: F64, passes: int = 2) -> F64:
    """Separable [1 2 1] / 4 smoothing along every axis, `passes` times."""
    for _ in range(passes):
        for axis in range(volume.ndim):
            volume = (np.roll(volume, 1, axis) + 2 * volume + np.roll(volume, -1, axis)) / 4
    return volume


def perfusion_volume(
    matrix: int,
    n_slices: int,
    spacing: float,
    rng: np.random.Generator,
    *,
    stress: bool,
    peak_counts: float = 180.0,
) -> npt.NDArray[np.uint16]:
    """Return a Poisson-noisy tracer distribution, shape ``(n_slices, matrix, matrix)``.

    A left-ventricular myocardium (an ellipsoidal shell open at the base, long axis
    pointing left, anterior and inferior), a faint blood pool, liver and body background;
    under stress the inferior wall takes up half the tracer.

    Parameters
    ----------
    matrix, n_slices, spacing
        Grid size and voxel size in mm; slice 0 is the most caudal.
    rng
        Randomness of the counts.
    stress
        Whether to show the stress-induced inferior defect.
    peak_counts
        Expected counts in normal myocardium.

    Returns
    -------
    numpy.ndarray
        uint16 counts.
    """
    half = (np.arange(matrix) - (matrix - 1) / 2) * spacing
    zs = (np.arange(n_slices) - (n_slices - 1) / 2) * spacing
    z, y, x = np.meshgrid(zs, half, half, indexing="ij")
    centre = np.array([35.0, -15.0, 10.0]) + rng.normal(0.0, 3.0, size=3)
    axis = np.array([0.6, -0.45, -0.66])
    axis /= np.linalg.norm(axis)
    dx, dy, dz = x - centre[0], y - centre[1], z - centre[2]
    along = dx * axis[0] + dy * axis[1] + dz * axis[2]
    radial2 = dx**2 + dy**2 + dz**2 - along**2
    outer = (along / 48.0) ** 2 + radial2 / 31.0**2 <= 1.0
    inner = (along / 38.0) ** 2 + radial2 / 21.0**2 <= 1.0
    myocardium = outer & ~inner & (along > -26.0)
    volume = np.zeros(z.shape)
    body = (x / 170.0) ** 2 + ((y - 10.0) / 120.0) ** 2 <= 1.0
    volume[body] = 0.07
    liver = ((x + 70.0) / 85.0) ** 2 + ((y - 5.0) / 75.0) ** 2 + ((z + 110.0) / 60.0) ** 2 <= 1
    volume[liver] = 0.35 if stress else 0.6
    volume[inner & (along > -26.0)] = 0.15
    uptake = np.ones(z.shape)
    if stress:
        inferior = (dz < -0.25 * np.sqrt(radial2 + 1.0)) & (along > -10.0) & (along < 30.0)
        uptake[inferior] = 0.5
    volume[myocardium] = uptake[myocardium]
    volume = _smooth(volume, passes=3)
    counts = rng.poisson(np.clip(volume, 0.0, None) * peak_counts)
    return np.clip(counts, 0, 65535).astype(np.uint16)


def _orientation_codes(ds: Dataset) -> None:
    """NM/PET Patient Orientation module: recumbent, supine, head first (SNOMED CT)."""
    recumbent = code_item("102538003", "SCT", "recumbent")
    recumbent.PatientOrientationModifierCodeSequence = Sequence(
        [code_item("40199007", "SCT", "supine")]
    )
    ds.PatientOrientationCodeSequence = Sequence([recumbent])
    ds.PatientGantryRelationshipCodeSequence = Sequence(
        [code_item("102540008", "SCT", "headfirst")]
    )


def _isotope(ds: Dataset, *, dose_mbq: float, injection_time: str) -> None:
    """NM Isotope module: Tc-99m sestamibi, one 140 keV +-10 % energy window."""
    window_range = Dataset()
    window_range.EnergyWindowLowerLimit = "126"
    window_range.EnergyWindowUpperLimit = "154"
    window = Dataset()
    window.EnergyWindowRangeSequence = Sequence([window_range])
    window.EnergyWindowName = "TC99M"
    ds.EnergyWindowInformationSequence = Sequence([window])
    pharm = Dataset()
    pharm.RadionuclideCodeSequence = Sequence([code_item("72454006", "SCT", "^99m^Technetium")])
    pharm.Radiopharmaceutical = "Tc99m Sestamibi"
    pharm.RadiopharmaceuticalCodeSequence = Sequence(
        [code_item("424299003", "SCT", "Tc-99m sestamibi")]
    )
    pharm.RadiopharmaceuticalRoute = "INTRAVENOUS"
    pharm.RadiopharmaceuticalStartTime = injection_time
    pharm.RadionuclideTotalDose = ds_str(dose_mbq)
    ds.RadiopharmaceuticalInformationSequence = Sequence([pharm])


def _detector(pixel_spacing: float, matrix: int, n_slices: int) -> Dataset:
    """Detector Information item: LEHR parallel hole, and the plane of the first frame."""
    detector = Dataset()
    detector.CollimatorGridName = "LEHR"
    detector.CollimatorType = "PARA"
    detector.FieldOfViewShape = "RECTANGLE"
    detector.FieldOfViewDimensions = [540, 400]
    detector.FocalDistance = [0]
    detector.XFocusCenter = "0"
    detector.YFocusCenter = "0"
    detector.ZoomFactor = ["1.33", "1.33"]
    detector.ImageOrientationPatient = list(AXIAL)
    z = -half_extent(pixel_spacing, n_slices)
    detector.ImagePositionPatient = centred_position(pixel_spacing, matrix, matrix, z)
    return detector


def _nm_series(
    patient: DemoPatient,
    seed: int,
    study: Study,
    series_number: int,
    *,
    stress: bool,
    matrix: int,
    n_slices: int,
    pixel_spacing: float,
) -> Dataset:
    label = "STRESS" if stress else "REST"
    ds = new_series(_NM, patient, seed, study, series_number, f"{label} TRANSAXIAL", "HEART")
    ds.ImageType = ["ORIGINAL", "PRIMARY", "RECON TOMO", "EMISSION"]
    ds.ImageID = label
    content_timing(ds, datetime=False)
    frame_of_reference(ds)
    _orientation_codes(ds)
    pixel_module(ds, rows=matrix, columns=matrix, bits_allocated=16, bits_stored=16)
    voxel_size(ds, pixel_spacing, pixel_spacing, pixel_spacing)
    ds.ReconstructionDiameter = ds_str(pixel_spacing * matrix)
    ds.ConvolutionKernel = "BUTTERWORTH 0.5"
    # NM Multi-frame: frames are slices, in Slice Vector order
    multi_frame(ds, n_slices, "SliceVector")
    ds.SliceVector = list(range(1, n_slices + 1))
    ds.NumberOfSlices = n_slices
    ds.NumberOfEnergyWindows = 1
    ds.NumberOfDetectors = 1
    ds.NumberOfRotations = 1
    # NM Image
    ds.CorrectedImage = ["UNIF", "COR", "DECY"]
    uncompressed(ds, annotation=False)
    _isotope(
        ds, dose_mbq=925.0 if stress else 370.0, injection_time=add_seconds(ds.SeriesTime, -2700)
    )
    ds.DetectorInformationSequence = Sequence([_detector(pixel_spacing, matrix, n_slices)])
    rotation = Dataset()
    rotation.StartAngle = "315"
    rotation.AngularStep = "3"
    rotation.RotationDirection = "CC"
    rotation.ScanArc = "180"
    rotation.ActualFrameDuration = 25000
    rotation.NumberOfFramesInRotation = 60
    ds.RotationInformationSequence = Sequence([rotation])
    ds.TypeOfDetectorMotion = "STEP AND SHOOT"

    rng = seeded_rng(seed, 5, int(stress))
    volume = perfusion_volume(matrix, n_slices, pixel_spacing, rng, stress=stress)
    ds.CountsAccumulated = int(volume.sum(dtype=np.int64))
    top = max(int(np.percentile(volume, 99.9)), 1)
    ds.WindowCenter = ds_str(top / 2)
    ds.WindowWidth = ds_str(top)
    ds.PixelData = volume.astype("<u2").tobytes()
    return finish(ds, 1)


def nm_study(
    patient: DemoPatient,
    *,
    seed: int,
    matrix: int = 64,
    n_slices: int = 64,
    pixel_spacing: float = 4.8,
    study_uid: str | None = None,
    study_date: str = "20260101",
    study_time: str = "090000",
    accession: str = "",
    study_description: str = "",
    referring_physician: str = "",
    series_number: int = 1,
) -> list[Dataset]:
    """Return a myocardial perfusion SPECT: stress and rest transaxial reconstructions.

    Each is one NM Image Storage instance, Image Type ``ORIGINAL\\PRIMARY\\RECON
    TOMO\\EMISSION``, a ``matrix x matrix x n_slices`` volume whose frames step through
    Slice Vector (Frame Increment Pointer), with Number of Slices, Pixel Spacing, Spacing
    Between Slices and the plane geometry in the Detector Information Sequence (frame k
    lies k x spacing along the normal of the orientation). The stress volume shows an
    inferior perfusion defect.

    Parameters
    ----------
    patient, seed
        Whose images; the seed fixes UIDs and counts.
    matrix, n_slices, pixel_spacing
        Volume size; isotropic voxels of `pixel_spacing` mm.
    study_uid, study_date, study_time, accession, study_description, referring_physician
        General Study attributes (see :func:`workbench.demo.ct_series`).
    series_number
        Number of the stress series; rest is the next one.

    Returns
    -------
    list of Dataset
        ``[stress, rest]``.
    """
    check_size("matrix", matrix, 8, 1024)
    check_size("n_slices", n_slices, 1, 1024)
    study = Study(
        study_uid, study_date, study_time, accession, study_description, referring_physician
    )
    return [
        _nm_series(
            patient,
            seed,
            study,
            series_number + offset,
            stress=stress,
            matrix=matrix,
            n_slices=n_slices,
            pixel_spacing=pixel_spacing,
        )
        for offset, stress in enumerate((True, False))
    ]
