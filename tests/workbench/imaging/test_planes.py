"""Plane geometry and pixel spacing read from datasets (PS3.3 10.7.1.3, C.7.6.2, C.7.6.16)."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from tests.synth import make_ct, make_nm, make_us, make_xa
from tests.workbench.imaging._series import enhanced, make_series, stack
from workbench.errors import MissingAttributeError
from workbench.imaging.planes import PixelSpacing, pixel_spacing, plane_geometry, stack_planes


def region(**values: object) -> Dataset:
    item = Dataset()
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return item


def test_pixel_spacing_sources() -> None:
    ct = make_ct(n=1)[0]
    assert pixel_spacing(ct) == PixelSpacing(0.7, 0.7, "PixelSpacing")

    xa = make_xa()  # Imager Pixel Spacing 0.36 mm at magnification 1100 / 760
    spacing = pixel_spacing(xa)
    assert spacing.source == ("ImagerPixelSpacing corrected by "
                              "EstimatedRadiographicMagnificationFactor")  # fmt: skip
    factor = float(xa.EstimatedRadiographicMagnificationFactor)
    assert spacing.row == pytest.approx(0.36 / factor)
    del xa.EstimatedRadiographicMagnificationFactor
    assert pixel_spacing(xa) == PixelSpacing(0.36, 0.36, "ImagerPixelSpacing")

    us = make_us()
    found = pixel_spacing(us)
    assert found.source == "SequenceOfUltrasoundRegions" and found.calibrated
    item = us.SequenceOfUltrasoundRegions[0]
    assert found.row == pytest.approx(abs(float(item.PhysicalDeltaY)) * 10.0)

    bare = Dataset()
    assert not pixel_spacing(bare).calibrated and pixel_spacing(bare).source == "none"
    bare.NominalScannedPixelSpacing = [0.2, 0.3]
    assert pixel_spacing(bare) == PixelSpacing(0.2, 0.3, "NominalScannedPixelSpacing")
    bare.SequenceOfUltrasoundRegions = Sequence([region(RegionSpatialFormat=1)])
    assert pixel_spacing(bare).source == "NominalScannedPixelSpacing"


def test_plane_from_image_plane_module() -> None:
    ds = make_series([[1.0, 2.0, 3.0]])[0]
    plane = plane_geometry(ds)
    assert plane.origin == (1.0, 2.0, 3.0)
    assert plane.spacing == (1.5, 1.0) and (plane.rows, plane.columns) == (12, 10)
    del ds.ImagePositionPatient
    with pytest.raises(MissingAttributeError, match="ImagePositionPatient"):
        plane_geometry(ds)


def test_plane_from_functional_groups() -> None:
    slices = make_series(stack([0.0, 2.0, 5.0]))
    multi = enhanced(slices)
    for frame, ds in enumerate(slices, start=1):
        assert plane_geometry(multi, frame) == plane_geometry(ds)
    assert pixel_spacing(multi, 2).source == "PixelMeasuresSequence"


def test_plane_of_nm_frames_follows_slice_vector() -> None:
    stress = make_nm(n_slices=4)[0]
    first, third = plane_geometry(stress, 1), plane_geometry(stress, 3)
    step = float(stress.SpacingBetweenSlices)
    np.testing.assert_allclose(np.subtract(third.origin, first.origin),
                               np.multiply(first.normal, 2 * step))  # fmt: skip


def test_stack_planes_sorts_by_position_not_order() -> None:
    origins = stack([6.0, 0.0, 2.0, 4.0])
    planes = [plane_geometry(ds) for ds in make_series(origins)]
    geometry, order = stack_planes(planes)
    assert order == (1, 2, 3, 0)
    np.testing.assert_allclose(geometry.positions, [0.0, 2.0, 4.0, 6.0])


def test_stack_planes_rejects_mixtures() -> None:
    base = [plane_geometry(ds) for ds in make_series(stack([0.0, 1.0]))]
    other = make_series(stack([2.0], (0, 1, 0, 0, 0, -1)), (0, 1, 0, 0, 0, -1))
    with pytest.raises(ValueError, match="ImageOrientationPatient"):
        stack_planes([*base, plane_geometry(other[0])])
    small = make_series(stack([3.0]), rows=8)
    with pytest.raises(ValueError, match="Rows/Columns"):
        stack_planes([*base, plane_geometry(small[0])])
    wide = make_series(stack([3.0]), spacing=(1.5, 2.0))
    with pytest.raises(ValueError, match="PixelSpacing"):
        stack_planes([*base, plane_geometry(wide[0])])
    with pytest.raises(ValueError, match="no image planes"):
        stack_planes([])
