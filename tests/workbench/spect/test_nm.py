"""Reading NM images: frames placed by their vectors, geometry, gating, stress/rest."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.tag import Tag
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from tests.workbench.spect.cases import SMALL
from workbench.spect.nm import frame_table, load_nm
from workbench.spect.nm_geometry import acquisition_state, gate_times_ms, plane_affine
from workbench.spect.phantom import Phantom, make_phantom, phantom_datasets
from workbench.spect.study import pick_sets, read_nm_files


def nm_dataset(frames: np.ndarray, image_type: str, vectors: dict[str, list[int]],
               **extra: Any) -> Dataset:  # fmt: skip
    """A minimal NM Image dataset whose frames are indexed by `vectors` (in that order)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.20"
    ds.SOPInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "NM"
    ds.ImageType = ["ORIGINAL", "PRIMARY", image_type, "EMISSION"]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = frames.shape[1:]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.NumberOfFrames = frames.shape[0]
    ds.FrameIncrementPointer = [Tag(k) for k in vectors]
    for keyword, values in vectors.items():
        setattr(ds, keyword, values)
    ds.PixelSpacing = ["4", "4"]
    for keyword, value in extra.items():
        setattr(ds, keyword, value)
    ds.PixelData = frames.astype("<u2").tobytes()
    return ds


def round_trip(ds: Dataset) -> Dataset:
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return pydicom.dcmread(io.BytesIO(buffer.getvalue()))


def test_recon_gated_tomo_from_phantom(small_phantom: Phantom) -> None:
    ds = round_trip(phantom_datasets([small_phantom])[0])
    image = load_nm(ds)
    data = image.data
    assert image.image_type == "RECON GATED TOMO" and image.is_gated and image.is_reconstructed
    assert data.dims == ("gate", "z", "y", "x") and data.shape == (8, 32, 32, 32)
    assert np.array_equal(data.values, small_phantom.counts)
    assert np.allclose(data.attrs["affine"], small_phantom.affine)
    assert data.attrs["orientation"] == "transaxial" and data.attrs["units"] == "counts"
    assert data.coords["time_ms"].values.tolist() == [125.0 * g for g in range(8)]
    assert data.coords["x"].values[1] == pytest.approx(6.4)
    assert image.rr_interval_ms == 1000.0 and data.attrs["rr_interval_ms"] == 1000.0
    assert image.state == "rest"


def test_frames_placed_by_vectors_not_file_order() -> None:
    gates, slices = 3, 4
    values = np.arange(gates * slices, dtype=np.uint16)
    order = np.random.default_rng(0).permutation(gates * slices)
    frames = np.broadcast_to(values[order][:, None, None], (gates * slices, 2, 2)).copy()
    slot = [int(v) // slices + 1 for v in values[order]]
    slice_ = [int(v) % slices + 1 for v in values[order]]
    ds = nm_dataset(frames, "RECON GATED TOMO", {"RRIntervalVector": [1] * 12,
                    "TimeSlotVector": slot, "SliceVector": slice_})  # fmt: skip
    table = frame_table(ds)
    assert list(table.columns) == ["frame", "rr_interval", "time_slot", "slice"]
    data = load_nm(round_trip(ds)).data
    assert data.shape == (3, 4, 2, 2)
    assert np.array_equal(data.values[:, :, 0, 0], values.reshape(3, 4))
    assert data.attrs["geometry"] == "assumed"


def test_recon_gated_tomo_keeps_one_rr_window() -> None:
    frames = np.arange(8, dtype=np.uint16)[:, None, None] * np.ones((8, 2, 2), np.uint16)
    ds = nm_dataset(frames, "RECON GATED TOMO", {
        "RRIntervalVector": [1, 1, 1, 1, 2, 2, 2, 2], "TimeSlotVector": [1, 1, 2, 2] * 2,
        "SliceVector": [1, 2] * 4})  # fmt: skip
    first = load_nm(round_trip(ds)).data
    second = load_nm(round_trip(ds), rr_interval=2).data
    assert first.values[:, :, 0, 0].tolist() == [[0, 1], [2, 3]]
    assert second.values[:, :, 0, 0].tolist() == [[4, 5], [6, 7]]


def test_tomo_and_gated_tomo_projections() -> None:
    rotation = Dataset()
    rotation.StartAngle, rotation.AngularStep, rotation.RotationDirection = "0", "90", "CW"
    frames = np.arange(8, dtype=np.uint16)[:, None, None] * np.ones((8, 3, 3), np.uint16)
    tomo = nm_dataset(frames, "TOMO", {
        "EnergyWindowVector": [1] * 8, "DetectorVector": [1] * 4 + [2] * 4,
        "RotationVector": [1] * 8, "AngularViewVector": [1, 2, 3, 4] * 2})  # fmt: skip
    det1, det2 = Dataset(), Dataset()
    det1.StartAngle, det2.StartAngle = "0", "45"
    tomo.RotationInformationSequence = [rotation]
    tomo.DetectorInformationSequence = [det1, det2]
    data = load_nm(round_trip(tomo)).data
    assert data.dims == ("angle", "y", "x")
    assert data.coords["angle"].values.tolist() == [0, 45, 90, 135, 180, 225, 270, 315]
    assert data.values[:, 0, 0].tolist() == [0, 4, 1, 5, 2, 6, 3, 7]

    gated = nm_dataset(frames, "GATED TOMO", {
        "EnergyWindowVector": [1] * 8, "DetectorVector": [1] * 8, "RotationVector": [1] * 8,
        "RRIntervalVector": [1] * 8, "TimeSlotVector": [1, 2] * 4,
        "AngularViewVector": [1, 1, 2, 2, 3, 3, 4, 4]})  # fmt: skip
    gated.RotationInformationSequence = [rotation]
    data = load_nm(round_trip(gated)).data
    assert data.dims == ("gate", "angle", "y", "x") and data.shape == (2, 4, 3, 3)
    assert data.values[:, :, 0, 0].tolist() == [[0, 2, 4, 6], [1, 3, 5, 7]]


def test_errors_name_the_attribute() -> None:
    frames = np.zeros((4, 2, 2), np.uint16)
    short = nm_dataset(frames, "RECON TOMO", {"SliceVector": [1, 2, 3]})
    with pytest.raises(ValueError, match="SliceVector has 3 values for 4 frames"):
        frame_table(short)
    twice = nm_dataset(frames, "RECON TOMO", {"SliceVector": [1, 1, 2, 3]})
    with pytest.raises(ValueError, match="exactly once"):
        load_nm(round_trip(twice))
    static = nm_dataset(frames, "STATIC", {"EnergyWindowVector": [1] * 4})
    with pytest.raises(ValueError, match="STATIC"):
        load_nm(round_trip(static))
    missing = nm_dataset(frames, "RECON TOMO", {"SliceVector": [1, 2, 3, 4]})
    del missing.SliceVector
    with pytest.raises(ValueError, match="SliceVector is named"):
        frame_table(missing)


def test_geometry_from_detector_information() -> None:
    item = Dataset()
    item.ImageOrientationPatient = ["0", "1", "0", "0", "0", "-1"]  # sagittal
    item.ImagePositionPatient = ["10", "20", "30"]
    ds = Dataset()
    ds.PixelSpacing = ["2", "3"]
    ds.SpacingBetweenSlices = "5"
    ds.DetectorInformationSequence = [item]
    affine, assumed = plane_affine(ds)
    assert not assumed
    assert affine[:3, 0].tolist() == [0, 3, 0]  # columns along +y, 3 mm
    assert affine[:3, 1].tolist() == [0, 0, -2]  # rows along -z, 2 mm
    assert affine[:3, 2].tolist() == [-5, 0, 0]  # slices along row x column
    assert affine[:3, 3].tolist() == [10, 20, 30]


def test_gate_times_and_states() -> None:
    ds = Dataset()
    ds.HeartRate = 75
    times, rr = gate_times_ms(ds, 4)
    assert rr == 800.0 and times == [0.0, 200.0, 400.0, 600.0]
    for text, state in [("STRESS GATED SA", "stress"), ("Rest_gated", "rest"),
                        ("REGADENOSON", "stress"), ("MYO", None), ("STRESS REST", None)]:
        described = Dataset()
        described.SeriesDescription = text
        assert acquisition_state(described) == state, text


def test_read_folder_and_pick_sets(tmp_path: Path, small_phantom: Phantom) -> None:
    stress = make_phantom(replace(SMALL, state="stress"))
    for ds in phantom_datasets([stress, small_phantom]):
        pydicom.dcmwrite(tmp_path / f"{ds.SeriesNumber}.dcm", ds, enforce_file_format=True)
    (tmp_path / "notes.txt").write_text("not DICOM")
    images = read_nm_files([tmp_path])
    assert [i.state for i in images] == ["stress", "rest"]
    s, r = pick_sets(images)
    assert s is images[0] and r is images[1]
    s, r = pick_sets(images[1:], rest=images[:1])  # explicit --rest wins over descriptions
    assert s is images[1] and r is images[0]
    with pytest.raises(FileNotFoundError):
        read_nm_files([tmp_path / "missing"])


@pytest.mark.corpus
def test_corpus_recon_tomo_without_geometry(corpus: Path) -> None:
    """A 13-slice vendor HLA set of 1995 with Slice Vector but no plane geometry."""
    image = load_nm(pydicom.dcmread(corpus / "dcm4che" / "NM-MONO2-16-13x-heart"))
    data = image.data
    assert image.image_type == "RECON TOMO" and not image.is_gated
    assert data.dims == ("z", "y", "x") and data.shape == (13, 64, 64)
    assert data.attrs["orientation"] == "horizontal long axis"
    assert data.attrs["geometry"] == "assumed"
    spacing = np.linalg.norm(np.asarray(data.attrs["affine"])[:3, :3], axis=0)
    assert spacing.tolist() == pytest.approx([3.11583, 3.11583, 6.231669])
    assert int(data.values.max()) == 141
