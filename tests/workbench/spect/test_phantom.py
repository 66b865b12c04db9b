"""The digital phantom: deterministic, truthful, and real DICOM NM RECON GATED TOMO."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pydicom
import pytest

from tests.workbench.spect.cases import SMALL
from workbench.spect.lvframe import angle_between, axis_from_angles
from workbench.spect.phantom import (
    Defect,
    Dyssynchrony,
    Phantom,
    PhantomSpec,
    contraction,
    make_phantom,
    phantom_datasets,
    realisations,
    stress_rest_specs,
)
from workbench.spect.phantom.heart import HeartModel


def test_same_spec_same_counts_bit_for_bit(small_phantom: Phantom) -> None:
    again = make_phantom(SMALL)
    assert np.array_equal(again.counts, small_phantom.counts)
    assert again.truth == small_phantom.truth


def test_noise_seed_changes_counts_not_truth() -> None:
    spec = replace(SMALL, counts_per_ml=2000.0)
    a, b = make_phantom(spec), make_phantom(replace(spec, seed=1))
    assert not np.array_equal(a.counts, b.counts)
    assert a.truth == b.truth


def test_realisations_equal_make_phantom() -> None:
    spec = replace(SMALL, counts_per_ml=2000.0)
    grid = list(realisations(spec, [10.0, 15.0], [0, 7]))
    assert [(p.spec.fwhm_mm, p.spec.seed) for p in grid] == [(10, 0), (10, 7), (15, 0), (15, 7)]
    single = make_phantom(replace(spec, fwhm_mm=15.0, seed=7))
    assert np.array_equal(grid[3].counts, single.counts)


def test_truth_volumes_follow_the_spec(small_phantom: Phantom) -> None:
    truth = small_phantom.truth
    assert truth.edv_ml == truth.volumes_ml[0]  # gate 0 (0 to 1/8 of R-R) is ED
    # gates show the middle of their interval: a little inside 120 and 45 mL
    assert 115.0 < truth.edv_ml < 120.0
    assert 45.0 <= truth.esv_ml < 50.0
    assert truth.ef_pct == pytest.approx(100 * (1 - truth.esv_ml / truth.edv_ml))
    assert np.ptp(truth.myocardial_ml) < 1e-3  # constant myocardial volume


def test_wall_thickens_and_base_descends(small_phantom: Phantom) -> None:
    truth = small_phantom.truth
    assert all(30 < t < 60 for t in truth.thickening_pct)
    assert truth.motion_mm[0] > truth.motion_mm[12] > truth.motion_mm[16]  # base > apex
    es = int(np.argmin(truth.volumes_ml))
    descent = np.linalg.norm(np.subtract(truth.base_mm[0], truth.base_mm[es]))
    assert 5.0 < descent < 20.0
    assert truth.phase_sd_deg < 1.0  # synchronous


def test_volume_curve_shape() -> None:
    c = contraction(np.linspace(0, 1, 101))
    assert c[0] == pytest.approx(0.0) and c.max() == pytest.approx(1.0)
    assert 0.3 < np.argmax(c) / 100 < 0.4
    assert np.all((c >= 0) & (c <= 1))


def test_tilt_and_dilation() -> None:
    spec = replace(SMALL, azimuth_deg=20.0, elevation_deg=40.0, dilation=1.25)
    truth = make_phantom(spec).truth
    assert angle_between(truth.axis, axis_from_angles(20.0, 40.0)) < 1e-9
    assert truth.edv_ml == pytest.approx(1.25 * make_phantom(SMALL).truth.edv_ml, rel=1e-6)
    undilated = HeartModel(replace(spec, dilation=1.0))
    assert HeartModel(spec).myocardial_ml == pytest.approx(undilated.myocardial_ml)


def test_defects_reversible_and_fixed() -> None:
    rest = replace(SMALL, defects=(Defect((1, 7), 0.5, reversible=True),
                                   Defect((4,), 0.4, reversible=False)))  # fmt: skip
    stress_spec, rest_spec = stress_rest_specs(rest, tid=1.0)
    stress, at_rest = make_phantom(stress_spec).truth, make_phantom(rest_spec).truth
    assert stress.defect_segments == {1, 4, 7}
    assert at_rest.defect_segments == {4}
    assert stress.uptake[0] == pytest.approx(0.5, abs=0.06)
    assert at_rest.uptake[0] == pytest.approx(1.0, abs=0.06)
    assert stress.uptake[3] == at_rest.uptake[3] == pytest.approx(0.6, abs=0.06)


def test_dyssynchrony_spreads_the_phase() -> None:
    late = replace(SMALL, dyssynchrony=(Dyssynchrony(270.0, 120.0, 0.15),))
    truth = make_phantom(late).truth
    assert truth.phase_sd_deg > 5.0
    lateral, septal = truth.phase_deg[10], truth.phase_deg[8]  # mid inferolateral, inferoseptal
    assert (lateral - septal) % 360 > 10


@pytest.mark.parametrize("kwargs", [
    {"edv_ml": 40.0, "esv_ml": 50.0}, {"n_gates": 1}, {"matrix": 8}, {"state": "exercise"},
])  # fmt: skip
def test_invalid_specs_raise(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        replace(SMALL, **kwargs)  # type: ignore[arg-type]


def test_invalid_defects_and_delays_raise() -> None:
    with pytest.raises(ValueError, match="AHA 1-17"):
        Defect((18,), 0.5, True)
    with pytest.raises(ValueError, match="severity"):
        Defect((1,), 1.5, True)
    with pytest.raises(ValueError, match="delay"):
        Dyssynchrony(0.0, 90.0, 1.2)


def test_dicom_round_trip(small_phantom: Phantom) -> None:
    stress, rest = make_phantom(replace(SMALL, state="stress")), small_phantom
    datasets = phantom_datasets([stress, rest])
    assert datasets[0].StudyInstanceUID == datasets[1].StudyInstanceUID
    assert datasets[0].SeriesInstanceUID != datasets[1].SeriesInstanceUID
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, datasets[1], enforce_file_format=True)
    ds = pydicom.dcmread(io.BytesIO(buffer.getvalue()))
    assert list(ds.ImageType) == ["ORIGINAL", "PRIMARY", "RECON GATED TOMO", "EMISSION"]
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.20"
    assert ds.NumberOfFrames == 8 * 32 and ds.NumberOfTimeSlots == 8
    assert [str(t) for t in ds.FrameIncrementPointer] == ["(0054,0060)", "(0054,0070)",
                                                          "(0054,0080)"]  # fmt: skip
    pixels = ds.pixel_array.reshape(8, 32, 32, 32)
    assert np.array_equal(pixels, rest.counts)
    again = phantom_datasets([stress, rest])[1]
    assert again.SOPInstanceUID == datasets[1].SOPInstanceUID  # deterministic UIDs


def test_noise_level_follows_counts_per_ml() -> None:
    spec = replace(SMALL, counts_per_ml=800.0, n_gates=8)
    counts = make_phantom(spec).counts
    assert 2 < counts.max() < 200  # ~52 counts/gate in a fully recovered voxel
    assert isinstance(spec, PhantomSpec)
