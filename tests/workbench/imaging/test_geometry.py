"""Plane and volume geometry: known values, flags, and pixel <-> patient round trips."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.workbench.imaging._series import tilted_orientation
from workbench.imaging.geometry import PlaneGeometry, VolumeGeometry, orthonormal_cosines


def axial_plane(origin: tuple[float, float, float] = (-100.0, -50.0, 10.0)) -> PlaneGeometry:
    return PlaneGeometry(origin, (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.5, 0.25), 4, 8)


def volume(distances: list[float], orientation: tuple[float, ...] = (1, 0, 0, 0, 1, 0),
           shift: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> VolumeGeometry:  # fmt: skip
    row, col = orthonormal_cosines(orientation)
    normal = np.cross(row, col)
    origins = tuple(
        tuple(float(v) for v in np.array([1.0, 2.0, 3.0]) + d * normal + k * np.asarray(shift))
        for k, d in enumerate(distances)
    )
    return VolumeGeometry(origins, row, col, (0.8, 0.6), 5, 7)  # type: ignore[arg-type]


def test_pixel_to_patient_known_values() -> None:
    plane = axial_plane()
    # PS3.3 C.7.6.2.1.1: column index steps along the row cosine by the column spacing
    np.testing.assert_allclose(plane.pixel_to_patient(0, 0), [-100.0, -50.0, 10.0])
    np.testing.assert_allclose(plane.pixel_to_patient(2, 4), [-100.0 + 4 * 0.25, -49.0, 10.0])
    assert plane.pixel_to_patient(np.zeros((3, 2)), 1).shape == (3, 2, 3)
    np.testing.assert_allclose(plane.patient_to_pixel([[-99.0, -49.0, 12.0]]), [[2.0, 4.0]])
    np.testing.assert_allclose(plane.distance([-99.0, -49.0, 12.0]), 2.0)
    assert plane.normal == (0.0, 0.0, 1.0)


def test_orthonormal_cosines_normalise_and_reject() -> None:
    row, col = orthonormal_cosines([2, 0, 0, 0, 0.9999, 0.001])
    assert row == (1.0, 0.0, 0.0)
    assert math.isclose(np.linalg.norm(col), 1.0) and abs(np.dot(row, col)) < 1e-15
    with pytest.raises(ValueError, match="ImageOrientationPatient"):
        orthonormal_cosines([1, 0, 0, 0.5, 0.5, 0])
    with pytest.raises(ValueError, match="ImageOrientationPatient"):
        orthonormal_cosines([1, 0, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="ImageOrientationPatient"):
        orthonormal_cosines([1, 0, 0, 0, 1])
    with pytest.raises(ValueError, match="PixelSpacing"):
        PlaneGeometry((0, 0, 0), (1, 0, 0), (0, 1, 0), (0.0, 1.0), 2, 2)


def test_regular_volume_affine_and_flags() -> None:
    geometry = volume([0.0, 2.0, 4.0, 6.0])
    assert geometry.is_regular and geometry.warnings == ()
    assert geometry.spacing == (2.0, 0.8, 0.6) and geometry.shape == (4, 5, 7)
    affine = geometry.affine
    index = np.array([3, 2, 1])  # (col, row, slice)
    expected = geometry.voxel_to_patient([1, 2, 3])  # (slice, row, col)
    np.testing.assert_allclose(affine @ [*index, 1], [*expected, 1])
    affine[0, 0] = 99.0  # a copy: the geometry is unchanged
    assert geometry.affine[0, 0] == 0.6


def test_uneven_spacing_detected() -> None:
    geometry = volume([0.0, 2.0, 4.0, 9.0, 11.0])
    assert geometry.is_uneven and not geometry.is_tilted
    assert geometry.slice_spacing == 2.0
    assert "uneven slice spacing 2-5 mm" in geometry.warnings[0]
    # the affine is approximate, the per-slice transform exact
    np.testing.assert_allclose(geometry.voxel_to_patient([3, 0, 0]), geometry.origins[3])
    assert not volume([0.0, 2.0, 4.001, 6.0]).is_uneven  # within tolerance


def test_gantry_tilt_detected() -> None:
    orientation = tilted_orientation(20.0)
    geometry = volume([0.0, 3.0, 6.0], orientation,
                      shift=(0.0, 0.0, 0.0))  # fmt: skip
    assert not geometry.is_tilted
    # scanners step the origin along patient z, which is not the tilted normal
    origins = tuple((0.0, 0.0, 5.0 * k) for k in range(4))
    row, col = orthonormal_cosines(orientation)
    tilted = VolumeGeometry(origins, row, col, (1.0, 1.0), 4, 4)
    assert tilted.is_tilted and not tilted.is_uneven
    assert math.isclose(tilted.tilt_degrees, 20.0, abs_tol=1e-9)
    assert math.isclose(tilted.slice_spacing, 5.0 * math.cos(math.radians(20)))
    assert tilted.warnings[0].startswith("gantry tilt 20.00 degrees")
    np.testing.assert_allclose(tilted.affine[:3, 2], [0.0, 0.0, 5.0])


def test_duplicate_or_unsorted_positions_rejected() -> None:
    with pytest.raises(ValueError, match="ImagePositionPatient"):
        volume([0.0, 2.0, 2.0])
    with pytest.raises(ValueError, match="ImagePositionPatient"):
        volume([0.0, 4.0, 2.0])


def test_subset_shifts_origins_and_spacing() -> None:
    geometry = volume([0.0, 2.0, 4.0, 6.0])
    part = geometry.subset([1, 3], row_start=2, col_start=1, rows=2, columns=3, step=(1, 2))
    assert part.shape == (2, 2, 3) and part.spacing_yx == (0.8, 1.2)
    np.testing.assert_allclose(part.voxel_to_patient([1, 1, 1]),
                               geometry.voxel_to_patient([3, 3, 3]))  # fmt: skip


unit = st.floats(-1.0, 1.0, allow_nan=False)
distances = st.lists(st.floats(0.2, 8.0), min_size=1, max_size=6).map(
    lambda gaps: [float(v) for v in np.cumsum([0.0, *gaps])]
)


@st.composite
def orientations(draw: st.DrawFn) -> tuple[float, ...]:
    """Random rotations: two orthonormal cosines from a random quaternion."""
    q = np.array([draw(unit) for _ in range(4)])
    if np.linalg.norm(q) < 0.1:
        q = np.array([1.0, 0.0, 0.0, 0.0])
    w, x, y, z = q / np.linalg.norm(q)
    matrix = np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])  # fmt: skip
    return (*matrix[:, 0], *matrix[:, 1])


@settings(max_examples=60, deadline=None)
@given(
    orientation=orientations(),
    spacing=st.tuples(st.floats(0.1, 5.0), st.floats(0.1, 5.0)),
    origin=st.tuples(*[st.floats(-500, 500)] * 3),
    pixels=st.lists(st.tuples(st.floats(-50, 600), st.floats(-50, 600)), min_size=1, max_size=5),
)
def test_plane_round_trip(
    orientation: tuple[float, ...],
    spacing: tuple[float, float],
    origin: tuple[float, float, float],
    pixels: list[tuple[float, float]],
) -> None:
    row, col = orthonormal_cosines(orientation)
    plane = PlaneGeometry(origin, row, col, spacing, 512, 512)
    rc = np.asarray(pixels)
    points = plane.pixel_to_patient(rc[:, 0], rc[:, 1])
    np.testing.assert_allclose(plane.patient_to_pixel(points), rc, atol=1e-7)
    np.testing.assert_allclose(plane.distance(points), 0.0, atol=1e-7)


@settings(max_examples=60, deadline=None)
@given(
    orientation=orientations(),
    gaps=distances,
    shift=st.tuples(*[st.floats(-2.0, 2.0)] * 3),
    voxels=st.lists(st.tuples(st.floats(-1, 7), st.floats(-2, 9), st.floats(-2, 9)),
                    min_size=1, max_size=5),
)  # fmt: skip
def test_volume_round_trip(
    orientation: tuple[float, ...],
    gaps: list[float],
    shift: tuple[float, float, float],
    voxels: list[tuple[float, float, float]],
) -> None:
    """voxel -> patient -> voxel is the identity, tilted and uneven stacks included."""
    row, col = orthonormal_cosines(orientation)
    normal = np.cross(row, col)
    in_plane = np.asarray(shift) - (np.asarray(shift) @ normal) * normal  # a shear only
    origins = tuple(tuple(float(v) for v in np.array([10.0, -20.0, 30.0]) + d * normal
                          + k * in_plane) for k, d in enumerate(gaps))  # fmt: skip
    geometry = VolumeGeometry(origins, row, col, (0.7, 1.3), 8, 8)  # type: ignore[arg-type]
    index = np.asarray(voxels)
    points = geometry.voxel_to_patient(index)
    np.testing.assert_allclose(geometry.patient_to_voxel(points), index, atol=1e-6)
    # integer slices land on their own plane exactly
    for k, origin in enumerate(geometry.origins):
        np.testing.assert_allclose(geometry.voxel_to_patient([k, 0, 0]), origin, atol=1e-9)
