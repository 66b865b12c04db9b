"""The seeded synthetic DICOM generator: determinism, conformance, content."""

from __future__ import annotations

import hashlib
import warnings
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom import config, dcmread
from pydicom.dataset import Dataset
from pydicom.tag import Tag
from pydicom.uid import ExplicitVRLittleEndian

from tests.synth import (
    PATIENT,
    from_bytes,
    make_ct,
    make_ecg,
    make_mr,
    make_nm,
    make_patient,
    make_study,
    make_us,
    make_xa,
    to_bytes,
    write_files,
)
from workbench.demo import (
    CT_IMAGE_STORAGE,
    DEMO_PATIENTS,
    LEAD_NAMES,
    MR_IMAGE_STORAGE,
    NM_IMAGE_STORAGE,
    TWELVE_LEAD_ECG_STORAGE,
    US_MULTIFRAME_IMAGE_STORAGE,
    XA_IMAGE_STORAGE,
    DemoPatient,
    benchmark_ct_studies,
    ct_series,
    demo_datasets,
    ecg,
    write_datasets,
)

COMMON = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
    "Modality",
    "SeriesInstanceUID",
    "SeriesNumber",
    "Manufacturer",
    "SOPClassUID",
    "SOPInstanceUID",
    "InstanceNumber",
)
PIXEL = (
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "Rows",
    "Columns",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "PixelData",
)
PLANE = (
    "FrameOfReferenceUID",
    "PositionReferenceIndicator",
    "PixelSpacing",
    "ImageOrientationPatient",
    "ImagePositionPatient",
    "SliceThickness",
    "ImageType",
)
MULTIFRAME = ("NumberOfFrames", "FrameIncrementPointer")
REQUIRED = {
    CT_IMAGE_STORAGE: COMMON
    + PIXEL
    + PLANE
    + ("RescaleIntercept", "RescaleSlope", "KVP", "AcquisitionNumber", "PatientPosition"),
    MR_IMAGE_STORAGE: COMMON
    + PIXEL
    + PLANE
    + (
        "ScanningSequence",
        "SequenceVariant",
        "ScanOptions",
        "MRAcquisitionType",
        "RepetitionTime",
        "EchoTime",
        "EchoTrainLength",
        "PatientPosition",
    ),
    US_MULTIFRAME_IMAGE_STORAGE: COMMON
    + PIXEL
    + MULTIFRAME
    + ("PlanarConfiguration", "FrameTime", "SequenceOfUltrasoundRegions", "ImageType"),
    XA_IMAGE_STORAGE: COMMON
    + PIXEL
    + MULTIFRAME
    + (
        "FrameTime",
        "ImageType",
        "PixelIntensityRelationship",
        "RadiationSetting",
        "KVP",
        "PositionerMotion",
        "PositionerPrimaryAngle",
        "PositionerSecondaryAngle",
    ),
    NM_IMAGE_STORAGE: COMMON
    + PIXEL
    + MULTIFRAME
    + (
        "ImageType",
        "FrameOfReferenceUID",
        "PixelSpacing",
        "SliceVector",
        "NumberOfSlices",
        "SpacingBetweenSlices",
        "DetectorInformationSequence",
        "EnergyWindowInformationSequence",
        "RadiopharmaceuticalInformationSequence",
        "RotationInformationSequence",
        "PatientOrientationCodeSequence",
        "PatientGantryRelationshipCodeSequence",
        "CountsAccumulated",
    ),
    TWELVE_LEAD_ECG_STORAGE: COMMON
    + (
        "ContentDate",
        "ContentTime",
        "AcquisitionDateTime",
        "AcquisitionContextSequence",
        "WaveformSequence",
    ),
}
TYPE_2 = {
    "ReferringPhysicianName",
    "AccessionNumber",
    "PositionReferenceIndicator",
    "ScanOptions",
    "AcquisitionContextSequence",
}


def _small_set(seed: int) -> list[Dataset]:
    return [
        *make_ct(n=2, seed=seed),
        *make_mr(n=2, seed=seed),
        make_us(seed=seed),
        make_xa(seed=seed),
        *make_nm(seed=seed),
        make_ecg(seed=seed),
        *make_ct(n=2, seed=seed, body_part="HEAD", series_number=7),
    ]


@pytest.fixture(scope="module")
def demo() -> list[Dataset]:
    return list(demo_datasets(seed=0))


@pytest.fixture
def strict_pydicom() -> Iterator[None]:
    """Invalid values raise instead of warning; any warning fails the test."""
    old = config.settings.writing_validation_mode
    config.settings.writing_validation_mode = config.RAISE
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            yield
    finally:
        config.settings.writing_validation_mode = old


def _digest(datasets: list[Dataset]) -> list[str]:
    return [hashlib.sha256(to_bytes(ds)).hexdigest() for ds in datasets]


# --- determinism ---------------------------------------------------------------------------


def test_same_seed_gives_identical_bytes() -> None:
    assert _digest(_small_set(5)) == _digest(_small_set(5))


def test_demo_is_deterministic(demo: list[Dataset]) -> None:
    assert _digest(list(demo_datasets(seed=0))) == _digest(demo)


def test_different_seed_gives_different_uids_and_pixels() -> None:
    a, b = _small_set(5), _small_set(6)
    for key in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        assert not {ds[key].value for ds in a} & {ds[key].value for ds in b}
    assert a[0].PixelData != b[0].PixelData


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(min_value=-(2**40), max_value=2**40))
def test_uids_are_valid_for_any_seed(seed: int) -> None:
    ds = make_ct(n=1, seed=seed, rows=16, columns=16)[0]
    for key in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"):
        uid = ds[key].value
        assert uid.is_valid, uid
        assert len(uid) <= 64


# --- conformance ---------------------------------------------------------------------------


def test_generation_and_writing_raise_no_validation_error(strict_pydicom: None) -> None:
    for ds in _small_set(3):
        from_bytes(to_bytes(ds))


@pytest.mark.parametrize("index", range(8))
def test_round_trip(index: int) -> None:
    ds = _small_set(9)[index]
    back = from_bytes(to_bytes(ds))
    assert back.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert back.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert back.file_meta.MediaStorageSOPClassUID == ds.SOPClassUID
    for elem in ds:
        assert back[elem.tag].value == elem.value, elem.keyword


def test_required_attributes_present(demo: list[Dataset]) -> None:
    for ds in [*demo, *_small_set(2)]:
        for keyword in REQUIRED[ds.SOPClassUID]:
            assert keyword in ds, (ds.Modality, keyword)
            if keyword not in TYPE_2:
                assert ds[keyword].value not in (None, "", []), (ds.Modality, keyword)


def test_every_demo_instance_round_trips_and_decodes(demo: list[Dataset]) -> None:
    modalities = set()
    for ds in demo:
        back = from_bytes(to_bytes(ds))
        modalities.add(back.Modality)
        if back.Modality == "ECG":
            assert back.waveform_array(0).shape == (5000, 12)
            continue
        pixels = back.pixel_array
        frames = int(back.get("NumberOfFrames", 1))
        shape: tuple[int, ...] = (back.Rows, back.Columns)
        if frames > 1:
            shape = (frames, *shape)
        if back.SamplesPerPixel == 3:
            shape = (*shape, 3)
        assert pixels.shape == shape
        assert pixels.dtype == (np.uint8 if back.BitsAllocated == 8 else np.uint16)
    assert modalities == {"CT", "MR", "US", "XA", "NM", "ECG"}


# --- the demo archive ----------------------------------------------------------------------


def test_demo_uids_are_unique(demo: list[Dataset]) -> None:
    sops = [ds.SOPInstanceUID for ds in demo]
    assert len(set(sops)) == len(sops)
    series: dict[str, set[str]] = defaultdict(set)
    for ds in demo:
        series[ds.SeriesInstanceUID].add(ds.StudyInstanceUID)
    assert all(len(studies) == 1 for studies in series.values())
    all_uids = {ds.StudyInstanceUID for ds in demo} | set(series) | set(sops)
    assert len(all_uids) == len({ds.StudyInstanceUID for ds in demo}) + len(series) + len(sops)
    frames_of_reference = {
        ds.SeriesInstanceUID: ds.FrameOfReferenceUID for ds in demo if "FrameOfReferenceUID" in ds
    }
    assert len(set(frames_of_reference.values())) == len(frames_of_reference)


def test_each_patient_has_a_prior_before_the_current_study(demo: list[Dataset]) -> None:
    studies: dict[str, dict[str, str]] = defaultdict(dict)
    for ds in demo:
        assert ds.StudyDate == studies[ds.PatientID].setdefault(ds.StudyInstanceUID, ds.StudyDate)
    assert set(studies) == {p.patient_id for p in DEMO_PATIENTS}
    for by_uid in studies.values():
        assert len(by_uid) == 2
        prior, current = sorted(by_uid.values())
        assert prior < current
    assert max(ds.StudyDate for ds in demo) == "20260115"


def test_demo_dates_follow_base_date() -> None:
    dates = {
        ds.StudyDate for ds in demo_datasets(seed=0, base_date="20200301") if ds.Modality != "CT"
    }
    assert max(dates) <= "20200301"
    assert min(dates) < "20200301"


def test_demo_has_no_clock_dependence(demo: list[Dataset]) -> None:
    assert {ds.InstanceCreationDate for ds in demo} <= {ds.StudyDate for ds in demo}


# --- modality content ----------------------------------------------------------------------


def _hu(ds: Dataset) -> np.ndarray:
    return ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)


def test_ct_hounsfield_ranges() -> None:
    series = make_ct(n=9, seed=4, rows=128, columns=128)
    mid = _hu(series[4])
    assert np.percentile(mid, 20) < -500  # lungs and air
    assert mid.max() > 300  # bone
    assert mid.min() >= -1024
    body = mid[(mid > -200) & (mid < 200)]
    assert abs(np.median(body) - 40) < 15  # soft tissue
    head = _hu(make_ct(n=5, seed=4, rows=64, columns=64, body_part="HEAD")[2])
    assert head.max() > 700


def test_ct_geometry_and_windows() -> None:
    series = make_ct(n=5, seed=2, slice_thickness=2.5, pixel_spacing=0.7)
    z = [float(ds.ImagePositionPatient[2]) for ds in series]
    assert np.allclose(np.diff(z), -2.5)
    assert [float(ds.SliceLocation) for ds in series] == z
    assert [ds.InstanceNumber for ds in series] == [1, 2, 3, 4, 5]
    ds = series[0]
    assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
    assert float(ds.RescaleIntercept) == -1024 and float(ds.RescaleSlope) == 1
    assert len(ds.WindowCenter) == len(ds.WindowWidth) == 2
    assert len({ds.FrameOfReferenceUID for ds in series}) == 1
    assert ds.PixelSpacing == [0.7, 0.7]


def test_slices_are_independent_objects() -> None:
    first, second = make_ct(n=2, seed=1)
    first.PatientName = "CHANGED^NAME"
    first.ImageType[2] = "LOCALIZER"
    assert second.PatientName == PATIENT.name
    assert second.ImageType[2] == "AXIAL"


def test_mr_series() -> None:
    series = make_mr(n=6, seed=3, rows=64, columns=64)
    assert {ds.SOPClassUID for ds in series} == {MR_IMAGE_STORAGE}
    pixels = np.stack([ds.pixel_array for ds in series])
    assert pixels.dtype == np.uint16 and pixels.max() < 4096
    assert pixels[2].max() > 400  # brain and scalp are bright on T1
    assert pixels[:, 0, 0].max() < 150  # air corner is only noise


def test_us_cine_regions_and_timing() -> None:
    ds = make_us(n_frames=4, seed=2, rows=96, columns=128, frame_rate=25.0, depth_cm=12.0)
    assert ds.PhotometricInterpretation == "RGB" and ds.PlanarConfiguration == 0
    assert ds.FrameIncrementPointer == Tag("FrameTime")
    assert float(ds.FrameTime) == pytest.approx(40.0)
    assert ds.CineRate == 25
    (region,) = ds.SequenceOfUltrasoundRegions
    assert region.PhysicalUnitsXDirection == region.PhysicalUnitsYDirection == 3
    assert region.PhysicalDeltaX > 0 and region.PhysicalDeltaY > 0
    height = region.RegionLocationMaxY1 - region.RegionLocationMinY0
    assert height * region.PhysicalDeltaY == pytest.approx(12.0, rel=0.02)
    assert region.RegionLocationMaxX1 < ds.Columns and region.RegionLocationMaxY1 < ds.Rows
    frames = from_bytes(to_bytes(ds)).pixel_array
    assert frames.shape == (4, 96, 128, 3)
    assert not np.array_equal(frames[..., 0], frames[..., 1])  # coloured overlay
    assert not np.array_equal(frames[0], frames[2])  # it moves


def test_xa_cine_geometry() -> None:
    ds = make_xa(n_frames=6, seed=2, rows=128, columns=128, imager_pixel_spacing=0.3)
    assert ds.PhotometricInterpretation == "MONOCHROME2" and ds.BitsAllocated == 8
    assert ds.FrameIncrementPointer == Tag("FrameTime")
    assert ds.ImagerPixelSpacing == [0.3, 0.3]
    ratio = float(ds.DistanceSourceToDetector) / float(ds.DistanceSourceToPatient)
    assert float(ds.EstimatedRadiographicMagnificationFactor) == pytest.approx(ratio, rel=1e-6)
    frames = ds.pixel_array
    assert frames.shape == (6, 128, 128)
    assert frames[:, 0, 0].max() == 0  # outside the circular shutter
    assert frames[-2].min() < frames[0][frames[0] > 0].min()  # contrast arrived


def test_nm_recon_tomo() -> None:
    stress, rest = make_nm(seed=4, matrix=32, n_slices=24, pixel_spacing=9.6)
    for ds in (stress, rest):
        assert list(ds.ImageType) == ["ORIGINAL", "PRIMARY", "RECON TOMO", "EMISSION"]
        assert ds.FrameIncrementPointer == Tag("SliceVector")
        assert ds.NumberOfFrames == ds.NumberOfSlices == 24
        assert list(ds.SliceVector) == list(range(1, 25))
        (detector,) = ds.DetectorInformationSequence
        assert [float(v) for v in detector.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
        assert len(detector.ImagePositionPatient) == 3
        assert float(ds.SpacingBetweenSlices) == 9.6
        volume = ds.pixel_array
        assert volume.shape == (24, 32, 32) and volume.dtype == np.uint16
        assert ds.CountsAccumulated == int(volume.sum())
    assert stress.SeriesInstanceUID != rest.SeriesInstanceUID
    assert stress.StudyInstanceUID == rest.StudyInstanceUID


def test_ecg_channels_and_rate() -> None:
    ds = ecg(PATIENT, seed=8, seconds=10.0, sampling_hz=500)
    back = from_bytes(to_bytes(ds))
    group = back.WaveformSequence[0]
    assert float(group.SamplingFrequency) == 500
    assert group.NumberOfWaveformChannels == 12
    assert group.WaveformBitsAllocated == 16 and group.WaveformSampleInterpretation == "SS"
    microvolts = back.waveform_array(0)
    assert microvolts.shape == (5000, 12)
    labels = [ch.ChannelLabel for ch in group.ChannelDefinitionSequence]
    assert labels == list(LEAD_NAMES)
    for ch in group.ChannelDefinitionSequence:
        assert ch.ChannelSourceSequence[0].CodingSchemeDesignator == "MDC"
        assert ch.ChannelSensitivityUnitsSequence[0].CodeValue == "uV"
    lead_i, lead_ii, lead_iii = microvolts[:, 0], microvolts[:, 1], microvolts[:, 2]
    assert 500 < lead_ii.max() < 3000  # R waves of about a millivolt or more
    assert np.std(lead_iii - (lead_ii - lead_i)) < 60  # Einthoven's law, up to noise
    old = ecg(PATIENT, seed=8, seconds=2.0, lead_coding="SCPECG")
    source = old.WaveformSequence[0].ChannelDefinitionSequence[0].ChannelSourceSequence[0]
    assert (source.CodingSchemeDesignator, source.CodeValue) == ("SCPECG", "5.6.3-9-1")


@pytest.mark.parametrize(
    "kwargs", [{"sampling_hz": 100}, {"seconds": 60.0}, {"lead_coding": "LOINC"}]
)
def test_ecg_rejects_what_the_iod_forbids(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ecg(PATIENT, seed=1, **kwargs)  # type: ignore[arg-type]


def test_bad_parameters_are_rejected() -> None:
    with pytest.raises(ValueError, match="StudyDate"):
        make_ct(n=1, study_date="2026-01-01")
    with pytest.raises(ValueError, match="PatientSex"):
        DemoPatient(patient_id="X", name="A^B", birth_date="19800101", sex="Q")
    with pytest.raises(ValueError, match="n_slices"):
        make_ct(n=0)


# --- study helpers, writing, benchmarks -----------------------------------------------------


def test_make_study_shares_one_study() -> None:
    datasets = make_study(("CT", "MR", "US", "XA", "NM", "ECG"), seed=3)
    assert len({ds.StudyInstanceUID for ds in datasets}) == 1
    numbers = sorted({(ds.SeriesNumber, ds.SeriesInstanceUID) for ds in datasets})
    assert [n for n, _ in numbers] == [1, 2, 3, 4, 5, 6, 7]
    assert len({ds.AccessionNumber for ds in datasets}) == 1
    assert make_patient(1) != make_patient(2)
    with pytest.raises(ValueError, match="modality"):
        make_study(("PET",))


def test_write_datasets_layout(tmp_path: Path) -> None:
    datasets = make_study(("CT", "ECG"), seed=4)
    paths = write_datasets(iter(datasets), tmp_path)
    assert len(paths) == len(datasets)
    for ds, path in zip(datasets, paths, strict=True):
        assert path == (
            tmp_path / ds.StudyInstanceUID / ds.SeriesInstanceUID / f"{ds.SOPInstanceUID}.dcm"
        )
        back = dcmread(path)
        assert back.SOPInstanceUID == ds.SOPInstanceUID
        assert path.read_bytes()[128:132] == b"DICM"
    assert write_files(datasets[:1], tmp_path / "again")[0].is_file()


def test_benchmark_studies_are_distinct_full_size() -> None:
    datasets = list(benchmark_ct_studies(n_studies=2, n_slices=2, seed=7))
    assert len(datasets) == 4
    assert len({ds.PatientID for ds in datasets}) == 2
    assert len({ds.StudyInstanceUID for ds in datasets}) == 2
    assert all((ds.Rows, ds.Columns) == (512, 512) for ds in datasets)
    assert 520_000 < len(to_bytes(datasets[0])) < 540_000


def test_generates_250_full_size_slices() -> None:
    count = 0
    for ds in benchmark_ct_studies(n_studies=1, n_slices=250):
        assert len(ds.PixelData) == 512 * 512 * 2
        count += 1
    assert count == 250


def test_series_longer_than_the_quantisation_still_varies() -> None:
    series = ct_series(DEMO_PATIENTS[0], seed=1, n_slices=60, rows=32, columns=32)
    assert len({ds.PixelData for ds in series}) == 60


def test_ct_series_is_iter_ct_series_as_a_list() -> None:
    import inspect

    from workbench.demo import iter_ct_series

    listed, lazy = inspect.signature(ct_series), inspect.signature(iter_ct_series)
    assert listed.parameters == lazy.parameters
    assert listed.return_annotation == "list[Dataset]"
    assert ct_series.__name__ == "ct_series"
    assert (ct_series.__doc__ or "").startswith("Return an axial CT series")
    series = ct_series(PATIENT, seed=3, n_slices=2, rows=16, columns=16)
    assert isinstance(series, list)
    lazy_series = iter_ct_series(PATIENT, seed=3, n_slices=2, rows=16, columns=16)
    assert _digest(series) == _digest(list(lazy_series))
