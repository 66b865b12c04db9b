"""Writing the phantom as a DICOM NM Image (RECON GATED TOMO) instance.

One multi-frame NM Image Storage instance per gated set, Image Type
``ORIGINAL\\PRIMARY\\RECON GATED TOMO\\EMISSION``. Frames run gate-major, slice-minor;
Frame Increment Pointer is R-R Interval Vector, Time Slot Vector, Slice Vector (PS3.3
C.8.4.8.1.5), one accepted-beat window. The NM Multi-gated Acquisition module carries the
heart rate, nominal interval and the time of each slot; the NM Detector module carries
the plane of the first slice (PS3.3 C.8.4.11), the slices stepping by Spacing Between
Slices along the normal of that plane.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import Tag

from workbench.demo._base import ds_list, ds_str
from workbench.demo._image import (
    AXIAL,
    content_timing,
    frame_of_reference,
    pixel_module,
    uncompressed,
    voxel_size,
)
from workbench.demo._modules import SeriesKind, Study, code_item, finish, new_series
from workbench.demo.patients import DemoPatient
from workbench.spect.phantom.render import grid_axis
from workbench.spect.phantom.spec import PhantomSpec

__all__ = ["NM_IMAGE_STORAGE", "gated_dataset"]

NM_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.20"
_KIND = SeriesKind(NM_IMAGE_STORAGE, "NM", "WORKBENCH GATED SPECT PHANTOM")


def _gating(ds: Dataset, spec: PhantomSpec) -> None:
    """NM Multi-gated Acquisition module and the gating vectors."""
    interval_ms = 60000.0 / spec.heart_rate_bpm
    slot_ms = interval_ms / spec.n_gates
    ds.BeatRejectionFlag = "Y"
    ds.PVCRejection = "Y"
    ds.SkipBeats = 0
    ds.HeartRate = int(round(spec.heart_rate_bpm))
    slots = []
    for _ in range(spec.n_gates):
        slot = Dataset()
        slot.TimeSlotTime = ds_str(slot_ms)
        slots.append(slot)
    data = Dataset()
    data.FrameTime = ds_str(slot_ms)
    data.NominalInterval = int(round(interval_ms))
    data.LowRRValue = int(round(interval_ms * 0.9))
    data.HighRRValue = int(round(interval_ms * 1.1))
    data.IntervalsAcquired = 600
    data.IntervalsRejected = 12
    data.TimeSlotInformationSequence = Sequence(slots)
    window = Dataset()
    window.TriggerTime = ds_str(0.0)
    window.CardiacFramingType = "FORW"
    window.DataInformationSequence = Sequence([data])
    ds.GatedInformationSequence = Sequence([window])
    ds.NumberOfRRIntervals = 1
    ds.NumberOfTimeSlots = spec.n_gates


def _isotope(ds: Dataset, state: str) -> None:
    """NM Isotope module: Tc-99m sestamibi, one 140 keV +-10 % window."""
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
    pharm.RadionuclideTotalDose = "1110" if state == "stress" else "370"
    ds.RadiopharmaceuticalInformationSequence = Sequence([pharm])


def _detector(spec: PhantomSpec) -> Dataset:
    """Detector Information item with the plane of slice 1 (axial, LPS)."""
    axis = grid_axis(spec)
    item = Dataset()
    item.CollimatorType = "PARA"
    item.CollimatorGridName = "LEHR"
    item.ImageOrientationPatient = list(AXIAL)
    item.ImagePositionPatient = ds_list([float(axis[0])] * 3)
    return item


def gated_dataset(
    spec: PhantomSpec,
    counts: npt.NDArray[np.uint16],
    patient: DemoPatient,
    *,
    study: Study,
    series_number: int,
    seed: int,
) -> Dataset:
    """Return one NM RECON GATED TOMO instance holding `counts` ``(gate, z, y, x)``.

    Parameters
    ----------
    spec
        The phantom (gating, voxel size, state for the description).
    counts
        uint16 counts per voxel and gate, axial slices from inferior to superior.
    patient, study, series_number, seed
        Identity; the seed and description fix the UIDs.
    """
    n_gates, n_slices, rows, columns = counts.shape
    label = spec.state.upper()
    ds = new_series(_KIND, patient, seed, study, series_number,
                    f"{label} GATED TOMO RECON PHANTOM", "HEART")  # fmt: skip
    ds.ImageType = ["ORIGINAL", "PRIMARY", "RECON GATED TOMO", "EMISSION"]
    ds.ImageID = f"{label} GATED"
    content_timing(ds, datetime=False)
    frame_of_reference(ds)
    recumbent = code_item("102538003", "SCT", "recumbent")
    recumbent.PatientOrientationModifierCodeSequence = Sequence(
        [code_item("40199007", "SCT", "supine")])
    ds.PatientOrientationCodeSequence = Sequence([recumbent])
    ds.PatientGantryRelationshipCodeSequence = Sequence([code_item("102540008", "SCT",
                                                                   "headfirst")])  # fmt: skip
    pixel_module(ds, rows=rows, columns=columns, bits_allocated=16, bits_stored=16)
    voxel_size(ds, spec.voxel_mm, spec.voxel_mm, spec.voxel_mm)
    ds.ReconstructionDiameter = ds_str(spec.voxel_mm * columns)
    ds.ConvolutionKernel = f"GAUSS {spec.fwhm_mm:g}MM"
    ds.NumberOfFrames = n_gates * n_slices
    ds.FrameIncrementPointer = [Tag("RRIntervalVector"), Tag("TimeSlotVector"),
                                Tag("SliceVector")]  # fmt: skip
    ds.RRIntervalVector = [1] * (n_gates * n_slices)
    ds.TimeSlotVector = [g + 1 for g in range(n_gates) for _ in range(n_slices)]
    ds.SliceVector = [k + 1 for _ in range(n_gates) for k in range(n_slices)]
    ds.NumberOfSlices = n_slices
    ds.NumberOfEnergyWindows = 1
    ds.NumberOfDetectors = 1
    ds.NumberOfRotations = 1
    ds.CorrectedImage = ["UNIF", "COR", "DECY"]
    uncompressed(ds, annotation=False)
    _gating(ds, spec)
    _isotope(ds, spec.state)
    ds.DetectorInformationSequence = Sequence([_detector(spec)])
    ds.TypeOfDetectorMotion = "STEP AND SHOOT"
    ds.ImageComments = (f"workbench.spect.phantom seed={spec.seed} EDV={spec.edv_ml:g} "
                        f"ESV={spec.esv_ml:g} FWHM={spec.fwhm_mm:g}")  # fmt: skip
    ds.CountsAccumulated = int(counts.sum(dtype=np.int64))
    top = max(int(np.percentile(counts, 99.9)), 1)
    ds.WindowCenter = ds_str(top / 2)
    ds.WindowWidth = ds_str(top)
    ds.PixelData = np.ascontiguousarray(counts, dtype="<u2").tobytes()
    return finish(ds, 1)
