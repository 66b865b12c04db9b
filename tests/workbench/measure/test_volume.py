"""Volumetrics on analytic phantoms: segmentation, volumes, surface, statistics, position."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import xarray as xr

from tests.workbench.measure.phantoms import (
    INSIDE_HU,
    OUTSIDE_HU,
    affine,
    rotation,
    sphere_volume,
    volume_from,
)
from workbench.measure import (
    CalibrationKind,
    brush,
    close_mask,
    connected_components,
    fill_holes,
    largest_component,
    measure_region,
    measure_volume,
    open_mask,
    region_grow,
    remove_small_components,
    surface_mesh,
    threshold,
)

CENTRE = (0.31, -0.17, 0.43)


def ball_ml(radius: float) -> float:
    return 4 / 3 * math.pi * radius**3 / 1000


def test_sphere_at_1mm_surface_volume_within_1_percent_and_voxel_count_exact() -> None:
    volume, inside = sphere_volume(20.0)
    mask = region_grow(volume, [CENTRE], lower=0)
    stats = measure_volume(volume, mask)
    assert stats.voxel_count == int(inside.sum())
    assert stats.voxel_volume_ml == stats.voxel_count * 1.0 / 1000  # 1 mm voxels: exact
    assert abs(stats.surface_volume_ml / ball_ml(20) - 1) < 0.01
    assert abs(stats.surface_area_mm2 / (4 * math.pi * 400) - 1) < 0.02
    assert stats.centroid_mm == pytest.approx(CENTRE, abs=0.05)
    assert (stats.mean, stats.std, stats.unit) == (INSIDE_HU, 0.0, "HU")


@pytest.mark.parametrize("spacing", [(2.5, 0.8, 0.8), (3.0, 0.7, 0.6)])
def test_sphere_with_anisotropic_voxels(spacing: tuple[float, float, float]) -> None:
    volume, inside = sphere_volume(20.0, spacing)
    stats = measure_volume(volume, threshold(volume, lower=0))
    voxel_mm3 = spacing[0] * spacing[1] * spacing[2]
    assert stats.voxel_count == int(inside.sum())
    assert stats.voxel_volume_ml == pytest.approx(stats.voxel_count * voxel_mm3 / 1000, rel=1e-12)
    assert abs(stats.surface_volume_ml / ball_ml(20) - 1) < 0.01
    assert abs(stats.voxel_volume_ml / ball_ml(20) - 1) < 0.01
    cal = stats.calibration
    assert cal.kind == CalibrationKind.VOLUME
    assert (cal.slice_spacing, cal.row_spacing, cal.column_spacing) == pytest.approx(spacing)


def test_oblique_volume_measures_the_same() -> None:
    """Rotated voxel axes: volumes, centroid and bounding box follow the affine."""
    volume, inside = sphere_volume(15.0, (1.5, 1.0, 1.0), rotation=rotation((1, 2, 3), 35))
    stats = measure_volume(volume, threshold(volume, lower=0))
    assert stats.voxel_count == int(inside.sum())
    assert abs(stats.surface_volume_ml / ball_ml(15) - 1) < 0.01
    assert stats.centroid_mm == pytest.approx(CENTRE, abs=0.1)
    box = zip(stats.bbox_min_mm, CENTRE, stats.bbox_max_mm, strict=True)
    assert all(lo < c < hi for lo, c, hi in box)


def test_statistics_equal_numpy_and_boxes() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(0, 50, (12, 14, 16))
    volume = volume_from(values, affine((2.0, 0.5, 0.25), (-10.0, 20.0, 30.0)))
    mask_values = np.zeros(values.shape, dtype=bool)
    mask_values[3:7, 2:11, 5:9] = True
    mask_values[4, 4, 4] = True
    mask = volume.copy(data=mask_values)
    stats = measure_volume(volume, mask)
    inside = values[mask_values]
    assert (stats.mean, stats.std, stats.median) == (inside.mean(), inside.std(),
                                                      np.median(inside))
    assert (stats.minimum, stats.maximum) == (inside.min(), inside.max())
    assert stats.bbox_index == ((3, 7), (2, 11), (4, 9))
    # voxel (x, y, z) -> (-10 + 0.25 x, 20 + 0.5 y, 30 + 2 z)
    assert stats.bbox_min_mm == pytest.approx((-9.0, 21.0, 36.0))
    assert stats.bbox_max_mm == pytest.approx((-8.0, 25.0, 42.0))
    idx = np.argwhere(mask_values).mean(axis=0)
    assert stats.centroid_mm == pytest.approx((-10 + 0.25 * idx[2], 20 + 0.5 * idx[1],
                                               30 + 2 * idx[0]))
    assert stats.to_dict()["bbox_index"] == [[3, 7], [2, 11], [4, 9]]
    assert stats.to_dict()["calibration"]["kind"] == "VOLUME"


def two_blobs() -> xr.DataArray:
    values = np.full((20, 20, 20), OUTSIDE_HU)
    values[2:8, 2:8, 2:8] = INSIDE_HU  # 216 voxels
    values[12:15, 12:15, 12:15] = INSIDE_HU  # 27 voxels
    values[12, 12, 2] = INSIDE_HU  # 1 voxel
    return volume_from(values, affine((1.0, 1.0, 1.0), (0.0, 0.0, 0.0)))


def test_region_grow_keeps_only_what_is_connected_to_a_seed() -> None:
    volume = two_blobs()
    grown = region_grow(volume, [(4.0, 4.0, 4.0)], lower=0)
    assert int(grown.sum()) == 216
    both = region_grow(volume, [(4.0, 4.0, 4.0), (13.2, 12.9, 13.0)], lower=0)
    assert int(both.sum()) == 243
    assert region_grow(volume, [(4, 4, 4)], tolerance=1.0).sum() == 216
    assert grown.dims == volume.dims and grown.attrs["affine"] == volume.attrs["affine"]
    with pytest.raises(ValueError, match="outside"):
        region_grow(volume, [(0.0, 0.0, 0.0)], lower=0)
    with pytest.raises(ValueError, match="outside the volume"):
        region_grow(volume, [(40.0, 0.0, 0.0)], lower=0)


def test_components_are_ordered_by_size() -> None:
    mask = threshold(two_blobs(), lower=0)
    labels = connected_components(mask)
    assert labels.dtype == np.int32
    assert [int((labels == k).sum()) for k in (1, 2, 3)] == [216, 27, 1]
    assert int(largest_component(mask).sum()) == 216
    assert int(remove_small_components(mask, 0.02).sum()) == 216 + 27


def test_morphology_in_millimetres() -> None:
    volume, _ = sphere_volume(8.0, (2.0, 1.0, 1.0))
    mask = threshold(volume, lower=0)
    holed = mask.copy(data=mask.values.copy())
    holed.values[tuple(s // 2 for s in mask.shape)] = False
    assert int(fill_holes(holed).sum()) == int(mask.sum())
    spur = mask.copy(data=mask.values.copy())
    spur.values[mask.shape[0] // 2, mask.shape[1] // 2, :] = True
    opened = open_mask(spur, 1.5)
    assert not opened.values[mask.shape[0] // 2, mask.shape[1] // 2, 0]
    assert int(close_mask(mask, 1.0).sum()) >= int(mask.sum())
    with pytest.raises(ValueError, match="positive"):
        open_mask(mask, 0.0)


def test_brush_paints_and_erases_balls_and_discs() -> None:
    volume = volume_from(np.zeros((20, 20, 20)), affine((2.0, 1.0, 1.0), (0.0, 0.0, 0.0)))
    empty = volume.copy(data=np.zeros(volume.shape, dtype=bool))
    ball = brush(empty, (10.0, 10.0, 20.0), 3.0)
    offsets = np.argwhere(ball.values) * np.array([2.0, 1.0, 1.0]) - np.array([20.0, 10, 10])
    assert np.all(np.sum(offsets**2, axis=1) <= 9.0)
    assert int(ball.sum()) == sum(
        1 for z in range(-1, 2) for y in range(-3, 4) for x in range(-3, 4)
        if (2 * z) ** 2 + y**2 + x**2 <= 9
    )
    disc = brush(empty, (10.0, 10.0, 20.4), 3.0, in_plane=True)
    assert set(np.argwhere(disc.values)[:, 0]) == {10}
    erased = brush(ball, (10.0, 10.0, 20.0), 1.0, erase=True)
    assert int(erased.sum()) == int(ball.sum()) - 5
    assert not empty.values.any()  # inputs are never modified


def test_surface_mesh_is_in_patient_space() -> None:
    volume, _ = sphere_volume(10.0)
    mesh = surface_mesh(threshold(volume, lower=0))
    distances = np.linalg.norm(mesh.vertices - np.asarray(CENTRE), axis=1)
    assert distances.mean() == pytest.approx(10.0, abs=0.3)
    raw = surface_mesh(threshold(volume, lower=0), smoothing_iterations=0)
    assert raw.area_mm2 > mesh.area_mm2


def test_errors_name_the_problem() -> None:
    volume, _ = sphere_volume(5.0)
    with pytest.raises(ValueError, match="empty"):
        measure_volume(volume, threshold(volume, lower=1e6))
    with pytest.raises(ValueError, match="aligned"):
        measure_volume(volume, threshold(volume, lower=0).isel(z=slice(1, None)))
    with pytest.raises(ValueError, match="boolean"):
        measure_volume(volume, volume)
    with pytest.raises(ValueError, match="dims"):
        threshold(volume.transpose("x", "y", "z"))
    no_affine = volume.copy()
    no_affine.attrs = {}
    with pytest.raises(ValueError, match="affine"):
        threshold(no_affine)


def test_measure_region_reports_json_and_skips_nan_padding() -> None:
    volume, inside = sphere_volume(6.0)
    values = volume.values.copy()
    values[0, 0, 0] = np.nan
    padded = volume.copy(data=values)
    mask, stats = measure_region(padded, [CENTRE], 0.0, 100.0)
    assert int(mask.sum()) == stats.voxel_count == int(inside.sum())
    assert "units" not in mask.attrs and mask.attrs["affine"] == volume.attrs["affine"]
    report = json.loads(json.dumps(stats.to_dict()))
    assert report["voxel_count"] == stats.voxel_count and report["unit"] == "HU"
    everything = measure_volume(padded, padded.copy(data=np.ones(values.shape, dtype=bool)))
    assert everything.minimum == OUTSIDE_HU and math.isfinite(everything.mean)
