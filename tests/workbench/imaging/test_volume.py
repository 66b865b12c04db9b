"""Series -> volume: dims, mm coordinates, attributes, geometric sorting, multi-frame."""

from __future__ import annotations

import random

import numpy as np
import pytest
import xarray as xr

from tests.synth import make_ct, make_mr, make_nm, make_us, make_xa
from tests.workbench.imaging._series import (
    enhanced,
    field,
    gantry_tilted,
    make_series,
    stack,
)
from workbench.dicom.frames import frame_array
from workbench.errors import MissingAttributeError
from workbench.imaging.geometry import VolumeGeometry
from workbench.imaging.load import load_dataarray
from workbench.imaging.lut import apply_modality_lut
from workbench.imaging.volume import geometry_of, series_volume, volume_dataarray


def all_voxels(shape: tuple[int, ...]) -> np.ndarray:
    return np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1)


def test_ct_series_volume() -> None:
    slices = make_ct(n=4, rows=16, columns=12)
    volume = series_volume(slices)
    assert volume.dims == ("z", "y", "x") and volume.shape == (4, 16, 12)
    assert volume.dtype == np.float32
    # make_ct steps down in z from slice 1: geometric order is the reverse
    expected = np.stack([apply_modality_lut(frame_array(ds, 1), ds) for ds in slices[::-1]])
    np.testing.assert_array_equal(volume.values, expected)
    np.testing.assert_allclose(volume.z, [0.0, 2.5, 5.0, 7.5])
    np.testing.assert_allclose(volume.x, np.arange(12) * 0.7)
    assert volume.z.attrs["units"] == "mm" and volume.y.attrs["units"] == "mm"
    attrs = volume.attrs
    assert attrs["units"] == "HU" and attrs["modality"] == "CT"
    assert attrs["series_instance_uid"] == slices[0].SeriesInstanceUID
    assert attrs["sop_instance_uids"] == tuple(ds.SOPInstanceUID for ds in slices[::-1])
    assert list(volume.sop_instance_uid.values) == list(attrs["sop_instance_uids"])
    assert attrs["pixel_spacing_source"] == "PixelSpacing"
    assert attrs["spacing"] == (2.5, 0.7, 0.7)
    assert attrs["window"] == (40.0, 400.0, "LINEAR")
    assert not attrs["tilted"] and not attrs["uneven"] and attrs["warnings"] == ()
    affine = np.asarray(attrs["affine"])
    # (col, row, slice) index -> LPS: slice 0 is the last instance (the lowest z)
    np.testing.assert_allclose(affine @ [0, 0, 0, 1], [*slices[-1].ImagePositionPatient, 1])
    np.testing.assert_allclose(affine @ [0, 0, 3, 1], [*slices[0].ImagePositionPatient, 1])


def test_sorted_by_geometry_not_by_file_or_number() -> None:
    origins = stack([0.0, 3.0, 6.0, 9.0, 12.0])
    slices = make_series(origins)
    shuffled = slices[:]
    random.Random(4).shuffle(shuffled)
    for k, ds in enumerate(shuffled):  # misleading instance numbers and locations
        ds.InstanceNumber, ds.SliceLocation = k + 1, str(100 - k)
    xr.testing.assert_identical(series_volume(shuffled), series_volume(slices))
    volume = series_volume(shuffled)
    assert volume.attrs["sop_instance_uids"] == tuple(ds.SOPInstanceUID for ds in slices)


def test_voxel_values_sit_at_their_patient_positions() -> None:
    volume = series_volume(make_series(stack([0.0, 2.0, 7.0, 9.0])))
    geometry = geometry_of(volume)
    assert volume.attrs["uneven"] and "uneven slice spacing" in volume.attrs["warnings"][0]
    np.testing.assert_allclose(volume.z, [0.0, 2.0, 7.0, 9.0])
    positions = geometry.voxel_to_patient(all_voxels(volume.shape))
    np.testing.assert_allclose(volume.values, field(positions), atol=0.051)


def test_gantry_tilt_reported() -> None:
    volume = series_volume(gantry_tilted(degrees=15.0))
    assert volume.attrs["tilted"] and not volume.attrs["uneven"]
    assert volume.attrs["tilt_degrees"] == pytest.approx(15.0)
    geometry = geometry_of(volume)
    positions = geometry.voxel_to_patient(all_voxels(volume.shape))
    np.testing.assert_allclose(volume.values, field(positions), atol=0.051)


def test_padding_becomes_nan() -> None:
    slices = make_ct(n=2, rows=8, columns=8)
    for ds in slices:
        pixels = np.frombuffer(ds.PixelData, "<u2").copy()
        pixels[:5] = 0
        ds.PixelData, ds.PixelPaddingValue = pixels.tobytes(), 0
    volume = series_volume(slices)
    assert np.isnan(volume.values[:, 0, :5]).all() and np.isfinite(volume.values[:, 1]).all()
    assert np.isfinite(series_volume(slices, mask_padding=False).values).all()


def test_geometry_of_a_cut() -> None:
    volume = series_volume(gantry_tilted(n=5))
    part = volume.isel(z=[1, 3], y=slice(2, None, 3), x=slice(1, 4))
    geometry = geometry_of(part)
    full = geometry_of(volume)
    assert geometry.shape == part.shape
    np.testing.assert_allclose(geometry.voxel_to_patient([1, 1, 2]),
                               full.voxel_to_patient([3, 5, 3]))  # fmt: skip
    with pytest.raises(ValueError, match="geometry"):
        geometry_of(xr.DataArray(np.zeros((1, 1, 1)), dims=("z", "y", "x")))


def test_enhanced_multiframe_volume_with_per_frame_rescale() -> None:
    slices = make_series(stack([4.0, 0.0, 2.0]))
    multi = enhanced(slices, slopes=[0.1, 0.5, 0.25])
    volume = series_volume(multi)
    reference = series_volume(slices)
    assert list(volume.frame.values) == [2, 3, 1]
    np.testing.assert_allclose(volume.values, reference.values, atol=0.26)
    np.testing.assert_allclose(volume.z, reference.z)
    assert volume.attrs["units"] == "HU"
    assert volume.attrs["pixel_spacing_source"] == "PixelMeasuresSequence"
    assert set(volume.attrs["sop_instance_uids"]) == {multi.SOPInstanceUID}
    two = series_volume(multi, frames=[1, 3])
    assert list(two.frame.values) == [3, 1]
    with pytest.raises(ValueError, match="NumberOfFrames"):
        series_volume(multi, frames=[4])


def test_nm_tomo_is_a_volume() -> None:
    stress = make_nm(n_slices=6, matrix=16)[0]
    volume = load_dataarray(stress)
    assert volume.dims == ("z", "y", "x") and volume.shape == (6, 16, 16)
    assert volume.attrs["units"] == "counts"
    np.testing.assert_allclose(np.diff(volume.z), float(stress.SpacingBetweenSlices))


def test_mixed_series_rejected() -> None:
    with pytest.raises(ValueError, match="SeriesInstanceUID"):
        series_volume([*make_ct(n=2, seed=1), *make_ct(n=2, seed=2)])
    duplicate = make_series(stack([0.0, 0.0, 3.0]))
    with pytest.raises(ValueError, match="ImagePositionPatient"):
        series_volume(duplicate)
    colour = make_us(n_frames=1)
    colour.ImagePositionPatient, colour.ImageOrientationPatient = [0, 0, 0], [1, 0, 0, 0, 1, 0]
    with pytest.raises(ValueError, match="PhotometricInterpretation"):
        series_volume(colour)
    with pytest.raises(MissingAttributeError):
        series_volume(make_xa(n_frames=1))
    with pytest.raises(ValueError, match="no datasets"):
        series_volume([])


def test_load_dataarray_dispatch() -> None:
    assert load_dataarray(make_mr(n=3)).dims == ("z", "y", "x")
    assert load_dataarray(make_ct(n=1)[0]).dims == ("z", "y", "x")
    assert load_dataarray(make_xa(n_frames=2)).dims == ("frame", "y", "x")
    single = make_us(n_frames=1)
    del single.NumberOfFrames
    assert load_dataarray(single).dims == ("y", "x", "rgb")


def test_volume_dataarray_checks_shape() -> None:
    geometry = VolumeGeometry(((0.0, 0.0, 0.0),), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0),
                              (1.0, 1.0), 2, 3)  # fmt: skip
    assert volume_dataarray(np.zeros((1, 2, 3)), geometry).attrs["spacing"] == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="shape"):
        volume_dataarray(np.zeros((2, 2, 3)), geometry)
