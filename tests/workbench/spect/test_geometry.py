"""Conventions: LV frame, AHA segments, meridian geometry, labelled volumes, reslicing."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.spect.aha import APEX_CAP, SEGMENTS, segment_centre, segment_of, territory_of
from workbench.spect.lvframe import LvFrame, angle_between, angles_from_axis, axis_from_angles
from workbench.spect.meridian import area_weights, at_h, enclosed_volume, mean_curvature
from workbench.spect.reorient import LongAxis
from workbench.spect.sampling import make_grid
from workbench.spect.slices import reslice
from workbench.spect.volume import make_volume, patient_points, spacing_of, voxel_indices


def test_lv_frame_conventions() -> None:
    frame = LvFrame((0.0, 0.0, 0.0), axis_from_angles(45.0, 25.0))
    a, ant, sep = (np.asarray(v) for v in (frame.axis, frame.anterior, frame.septal))
    assert ant @ np.array([0, -1, 0]) > 0.7  # anterior points to the patient's front
    assert sep @ np.array([-1, 0, 0]) > 0.2  # septum towards the patient's right (RV)
    assert np.allclose(np.cross(a, ant), sep)
    assert abs(a @ ant) < 1e-12 and abs(a @ sep) < 1e-12
    q = frame.to_local(frame.to_patient([[1.0, 2.0, 3.0]]))
    assert np.allclose(q, [[1.0, 2.0, 3.0]])
    _, _, theta = frame.cylindrical(np.asarray(frame.direction([0.0, 90.0, 180.0, 270.0])))
    assert np.allclose(theta, [0.0, 90.0, 180.0, 270.0])
    assert angles_from_axis(axis_from_angles(30.0, 40.0)) == pytest.approx((30.0, 40.0))
    assert angle_between((1, 0, 0), (0, 1, 0)) == pytest.approx(90.0)


def test_aha_segments() -> None:
    h = np.array([0.05, 0.05, 0.05, 0.5, 0.5, 0.7, 0.7, 0.7, 0.7, 0.95])
    theta = np.array([0.0, 40.0, 300.0, 100.0, 200.0, 0.0, 90.0, 180.0, 270.0, 123.0])
    assert segment_of(h, theta).tolist() == [1, 2, 6, 9, 10, 13, 14, 15, 16, 17]
    for s in SEGMENTS:
        assert segment_of(*segment_centre(s)) == s
    assert territory_of(1) == "LAD" and territory_of(4) == "RCA" and territory_of(16) == "LCx"
    assert segment_of(APEX_CAP, 0.0) == 17
    with pytest.raises(ValueError):
        segment_centre(18)


def _spheroid_grid(L: float, R: float, centre_below: float):  # type: ignore[no-untyped-def]
    grid = make_grid(LvFrame((0.0, 0.0, 0.0), (0.0, 0.0, 1.0)), 24.0, 90.0)
    radial, axial = grid.meridian_directions()
    oz = grid.ray_origin_z()
    t = np.empty(grid.shape)
    for i in range(grid.shape[0]):
        qa = (axial[i] / L) ** 2 + (radial[i] / R) ** 2
        qb = 2 * axial[i] * (oz[i] + centre_below) / L**2
        qc = ((oz[i] + centre_below) / L) ** 2 - 1
        t[i] = (-qb + np.sqrt(qb * qb - 4 * qa * qc)) / (2 * qa)
    return grid, *grid.to_meridian(t)


def test_meridian_volume_area_and_curvature_of_a_spheroid() -> None:
    L, R, c0, zv = 72.0, 30.5, 25.0, -62.0
    grid, rho, z = _spheroid_grid(L, R, c0)
    valve = np.full(grid.shape[1], zv)
    w = np.linspace(zv + c0, L, 200001)
    r = R * np.sqrt(np.clip(1 - (w / L) ** 2, 0, None))
    volume = np.sum(np.pi * (r[1:] ** 2 + r[:-1] ** 2) / 2 * np.diff(w)) / 1000
    area = np.sum(np.pi * (r[1:] + r[:-1]) * np.hypot(np.diff(r), np.diff(w))) / 100
    assert enclosed_volume(rho, z, valve) == pytest.approx(volume, rel=2e-3)
    assert area_weights(rho, z, valve, grid.shape[1]).sum() / 100 == pytest.approx(area, rel=3e-3)
    equator = grid.n_cap + int(np.argmin(np.abs(z[grid.n_cap:, 0] + c0)))
    assert mean_curvature(rho, z)[equator].mean() == pytest.approx((1 / R + R / L**2) / 2,
                                                                   rel=0.02)  # fmt: skip


def test_at_h_resamples_each_sector() -> None:
    h_from = np.linspace(1, 0, 5)[:, None] * np.ones((1, 2))
    values = np.arange(10, dtype=float).reshape(5, 2)
    out = at_h(values, h_from, np.full((1, 2), 0.625))
    assert out.tolist() == [[3.0, 4.0]]


def test_volume_labels_and_transforms() -> None:
    affine = np.diag([2.0, 3.0, 4.0, 1.0])
    affine[:3, 3] = [-10.0, 5.0, 7.0]
    v = make_volume(np.zeros((2, 3, 4, 5)), affine, gate_times_ms=[0.0, 500.0])
    assert v.dims == ("gate", "z", "y", "x")
    assert v.coords["x"].values.tolist() == [0, 2, 4, 6, 8]
    assert v.coords["z"].values.tolist() == [0, 4, 8]
    assert v.attrs["units"] == "counts" and spacing_of(v) == (4.0, 3.0, 2.0)
    p = patient_points(affine, [[1.0, 2.0, 3.0]])  # (z, y, x)
    assert p.tolist() == [[-4.0, 11.0, 11.0]]
    assert voxel_indices(affine, p).tolist() == [[1.0, 2.0, 3.0]]
    with pytest.raises(ValueError):
        make_volume(np.zeros((2, 2)), affine)


def test_reslice_orients_views_as_the_clinics_do() -> None:
    n = 41
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = -40.0
    grid = patient_points(affine, np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), -1))
    axis = LongAxis((0.0, 0.0, 0.0), axis_from_angles(45.0, 25.0))
    frame = axis.frame

    def where_is(direction: tuple[float, float, float], view: str) -> np.ndarray:
        """Index offset from the centre of a blob 20 mm along `direction`, after reslicing."""
        blob = np.exp(-np.sum((grid - 20.0 * np.asarray(direction)) ** 2, -1) / (2 * 4.0**2))
        out = reslice(make_volume(blob, affine), axis, view, spacing_mm=2.0,  # type: ignore[arg-type]
                      size_mm=60.0)  # fmt: skip
        assert out.attrs["orientation"] in ("short axis", "horizontal long axis",
                                            "vertical long axis")  # fmt: skip
        peak = np.unravel_index(int(np.argmax(out.values)), out.shape)
        return np.asarray(peak, float) - (out.shape[0] - 1) / 2

    assert where_is(frame.axis, "sa")[0] < -5  # SA slice 0 is at the apex
    assert where_is(frame.anterior, "sa")[1] < -5  # anterior in the top rows
    assert where_is(frame.septal, "sa")[2] < -5  # septum in the left columns
    assert where_is(frame.axis, "hla")[1] < -5  # HLA: apex at the top
    assert where_is(frame.axis, "vla")[2] > 5  # VLA: apex on the right
    assert where_is(frame.anterior, "vla")[1] < -5  # VLA: anterior at the top
