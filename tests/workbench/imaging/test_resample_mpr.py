"""Resampling to a regular grid and multiplanar reformats, checked against a linear field.

Linear interpolation reproduces a linear field exactly, so every voxel of a resampled
or reformatted volume must hold the field at its own patient position (to the 0.05 of
the stored rounding), whatever shear, spacing or orientation the source had.
"""

from __future__ import annotations

import importlib
import math
from typing import Any

import numpy as np
import pytest
import xarray as xr

from tests.workbench.imaging._series import field, gantry_tilted, make_series, stack
from workbench.imaging.mpr import DISPLAY_ORIENTATIONS, axial, coronal, reformat, sagittal
from workbench.imaging.resample import resample
from workbench.imaging.volume import geometry_of, series_volume

CORONAL = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)


def assert_field(volume: xr.DataArray, *, finite: float = 1.0) -> None:
    """Every finite voxel holds the field at its position; at least `finite` are finite."""
    geometry = geometry_of(volume)
    index = np.stack(np.meshgrid(*[np.arange(n) for n in volume.shape], indexing="ij"), -1)
    expected = field(geometry.voxel_to_patient(index))
    values = volume.values
    mask = np.isfinite(values)
    assert mask.mean() >= finite
    np.testing.assert_allclose(values[mask], expected[mask], atol=0.051)


def test_resample_removes_tilt() -> None:
    volume = series_volume(gantry_tilted(n=6, degrees=15.0, step=3.0))
    out = resample(volume)
    assert not out.attrs["tilted"] and not out.attrs["uneven"] and out.attrs["resampled"]
    assert out.attrs["warnings"] == ()
    assert "sop_instance_uid" not in out.coords
    dz = 3.0 * math.cos(math.radians(15.0))
    np.testing.assert_allclose(out.z, np.arange(6) * dz, atol=1e-9)
    assert out.attrs["spacing"] == pytest.approx((dz, 1.5, 1.0))
    geometry = geometry_of(out)
    assert geometry.is_regular and geometry.origins[0] == geometry_of(volume).origins[0]
    assert_field(out, finite=0.5)
    assert np.isnan(out.values[-1, -1]).all()  # sheared out of the first slice's footprint
    filled = resample(volume, fill=-1024.0)
    assert (filled.values[-1, -1] == -1024.0).all()


def test_resample_evens_spacing_and_sets_spacing() -> None:
    volume = series_volume(make_series(stack([0.0, 2.0, 4.0, 9.0, 11.0])))
    out = resample(volume)
    np.testing.assert_allclose(out.z, np.arange(0.0, 11.0, 2.0))
    assert_field(out)
    iso = resample(volume, 0.75)
    assert iso.attrs["spacing"] == (0.75, 0.75, 0.75) and iso.sizes["y"] == 23
    assert_field(iso)
    cubic = resample(volume, (1.0, 1.5, 1.0), order=3)
    assert_field(cubic)
    with pytest.raises(ValueError, match="spacing"):
        resample(volume, (1.0, 0.0, 1.0))


def test_resample_regular_volume_is_a_copy() -> None:
    volume = series_volume(make_series(stack([0.0, 2.0, 4.0])))
    out = resample(volume)
    xr.testing.assert_identical(out, volume)
    assert out is not volume


def test_missing_scipy_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.import_module

    def no_scipy(name: str, *args: Any) -> Any:
        if name.startswith("scipy"):
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", no_scipy)
    with pytest.raises(ImportError, match=r"workbench\[analysis\]"):
        resample(series_volume(gantry_tilted(n=3)))


def test_reformats_of_an_axial_volume() -> None:
    volume = series_volume(make_series(stack([0.0, 2.0, 4.0, 6.0]), rows=12, columns=10))
    shapes = {"axial": (4, 12, 10), "coronal": (12, 4, 10), "sagittal": (10, 4, 12)}
    for plane, function in (("axial", axial), ("coronal", coronal), ("sagittal", sagittal)):
        out = function(volume)
        geometry = geometry_of(out)
        assert out.shape == shapes[plane] and out.attrs["plane"] == plane
        row, col = DISPLAY_ORIENTATIONS[plane]
        assert geometry.row_cosine == row and geometry.column_cosine == col
        assert_field(out)
        assert np.shares_memory(out.values, volume.values)  # exact: a view
    cor = coronal(volume)
    assert cor.attrs["spacing"] == (1.5, 2.0, 1.0)  # rows are 2 mm slices, columns 1 mm
    # coronal images run head to feet: row 0 is the most superior slice
    np.testing.assert_array_equal(cor.values[:, 0, :], volume.values[-1, :, :])
    assert "sop_instance_uid" not in cor.coords
    assert tuple(axial(volume).sop_instance_uid.values) == volume.attrs["sop_instance_uids"]


def test_axial_of_a_coronal_acquisition() -> None:
    origins = stack([0.0, 1.0, 2.0], CORONAL, first=(-5.0, 10.0, 30.0))
    volume = series_volume(make_series(origins, CORONAL, rows=8, columns=9))
    out = axial(volume)
    assert out.shape == (8, 3, 9) and out.attrs["spacing"] == (1.5, 1.0, 1.0)
    assert_field(out)
    flipped = reformat(volume, "coronal")
    # the acquisition plane keeps slice order when the normal matches, reversed if not
    assert list(flipped.sop_instance_uid.values) == list(volume.sop_instance_uid.values)


def test_oblique_volume_is_resampled() -> None:
    orientation = (0.8, 0.6, 0.0, -0.54, 0.72, 0.43588989435)
    volume = series_volume(make_series(stack(list(np.arange(6) * 2.0), orientation),
                                       orientation))  # fmt: skip
    for plane in DISPLAY_ORIENTATIONS:
        out = reformat(volume, plane)  # type: ignore[arg-type]
        assert not np.shares_memory(out.values, volume.values)
        assert_field(out, finite=0.1)
    with pytest.raises(ValueError, match="plane"):
        reformat(volume, "oblique")  # type: ignore[arg-type]


def test_reformat_of_tilted_volume_resamples_first() -> None:
    volume = series_volume(gantry_tilted(n=5, degrees=10.0))
    out = coronal(volume, max_obliquity=12.0)
    assert out.attrs["resampled"] and not out.attrs["tilted"]
    assert_field(out, finite=0.5)
