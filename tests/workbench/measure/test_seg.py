"""DICOM Segmentation export and import: masks of CT volumes round-trip voxel for voxel."""

from __future__ import annotations

import random

import numpy as np
import pytest
import xarray as xr
from pydicom.dataset import Dataset

from tests.synth import from_bytes, make_ct, to_bytes
from workbench.imaging.volume import series_volume
from workbench.measure import brush, measure_volume
from workbench.measure.seg import read_segmentation, segment_labels, segmentation

SEG_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"


@pytest.fixture(scope="module")
def ct() -> tuple[list[Dataset], xr.DataArray]:
    slices = make_ct(n=12, seed=7, rows=48, columns=40)
    return slices, series_volume(slices)


def ball(volume: xr.DataArray, radius_mm: float, *, offset: int = 0) -> xr.DataArray:
    """A ball painted with the brush about a voxel near the volume's middle."""
    empty = xr.zeros_like(volume, dtype=bool)
    matrix = np.asarray(volume.attrs["affine"])
    z, y, x = (n // 2 + offset for n in volume.shape)
    centre = matrix[:3, :3] @ np.array([x, y, z]) + matrix[:3, 3]
    return brush(empty, centre.tolist(), radius_mm)


def test_round_trip_gives_the_same_voxels_and_volume(ct: tuple[list[Dataset], xr.DataArray]
                                                     ) -> None:
    slices, volume = ct
    mask = ball(volume, 6.0)
    assert 0 < int(mask.sum()) < mask.size
    shuffled = random.Random(3).sample(slices, len(slices))  # any order of the sources
    seg = segmentation(mask, shuffled, label="lesion", algorithm_type="SEMIAUTOMATIC")
    stored = from_bytes(to_bytes(seg))
    assert stored.SOPClassUID == SEG_STORAGE and stored.SegmentationType == "BINARY"
    assert segment_labels(stored) == {1: "lesion"}
    back = read_segmentation(stored, volume)
    assert back.dtype == np.bool_ and back.dims == ("z", "y", "x")
    np.testing.assert_array_equal(back.values, mask.values)
    xr.testing.assert_equal(back.coords.to_dataset(), volume.coords.to_dataset())
    before, after = measure_volume(volume, mask), measure_volume(volume, back)
    assert after.voxel_count == before.voxel_count
    assert after.voxel_volume_ml == before.voxel_volume_ml


def test_references_every_source_slice_and_names_the_algorithm(
        ct: tuple[list[Dataset], xr.DataArray]) -> None:
    slices, volume = ct
    seg = from_bytes(to_bytes(segmentation(ball(volume, 4.0), slices, label="node",
                                           algorithm_name="threshold 0..100 HU")))
    referenced = {item.ReferencedSOPInstanceUID
                  for series in seg.ReferencedSeriesSequence
                  for item in series.ReferencedInstanceSequence}
    assert referenced == {s.SOPInstanceUID for s in slices}
    assert seg.StudyInstanceUID == slices[0].StudyInstanceUID
    assert seg.FrameOfReferenceUID == slices[0].FrameOfReferenceUID
    segment = seg.SegmentSequence[0]
    assert segment.SegmentAlgorithmType == "SEMIAUTOMATIC"
    assert segment.SegmentationAlgorithmIdentificationSequence[0].AlgorithmName == \
        "threshold 0..100 HU"
    # only slices the ball touches are stored, each pointing at its source image
    sources = {f.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
               for f in seg.PerFrameFunctionalGroupsSequence}
    touched = {str(u) for u, hit in zip(volume.sop_instance_uid.values,
                                        ball(volume, 4.0).any(dim=("y", "x")).values,
                                        strict=True) if hit}
    assert sources == touched


def test_manual_segment_needs_no_algorithm(ct: tuple[list[Dataset], xr.DataArray]) -> None:
    slices, volume = ct
    seg = segmentation(ball(volume, 3.0, offset=2), slices, label="drawn",
                       algorithm_type="manual")
    segment = seg.SegmentSequence[0]
    assert segment.SegmentAlgorithmType == "MANUAL"
    assert "SegmentationAlgorithmIdentificationSequence" not in segment
    np.testing.assert_array_equal(read_segmentation(seg, volume, segment="drawn").values,
                                  ball(volume, 3.0, offset=2).values)


def test_read_onto_a_sub_volume(ct: tuple[list[Dataset], xr.DataArray]) -> None:
    slices, volume = ct
    mask = ball(volume, 6.0)
    seg = from_bytes(to_bytes(segmentation(mask, slices, label="lesion")))
    part = volume.isel(z=slice(3, 9))
    np.testing.assert_array_equal(read_segmentation(seg, part, segment=1).values,
                                  mask.isel(z=slice(3, 9)).values)


def test_refusals_name_what_is_wrong(ct: tuple[list[Dataset], xr.DataArray]) -> None:
    slices, volume = ct
    mask = ball(volume, 5.0)
    with pytest.raises(ValueError, match="empty"):
        segmentation(xr.zeros_like(mask), slices, label="nothing")
    with pytest.raises(ValueError, match="boolean"):
        segmentation(mask.astype(np.uint8), slices, label="x")
    with pytest.raises(ValueError, match="not in source_images"):
        segmentation(mask, slices[1:], label="x")
    with pytest.raises(ValueError, match="SegmentAlgorithmType"):
        segmentation(mask, slices, label="x", algorithm_type="GUESSED")
    with pytest.raises(ValueError, match="SegmentLabel"):
        segmentation(mask, slices, label="")
    with pytest.raises(ValueError, match="sop_instance_uid"):
        segmentation(mask.drop_vars(["sop_instance_uid"]), slices, label="x")
    seg = segmentation(mask, slices, label="lesion")
    with pytest.raises(ValueError, match="no segment number 2"):
        read_segmentation(seg, volume, segment=2)
    with pytest.raises(ValueError, match="0 segments are labelled 'liver'"):
        read_segmentation(seg, volume, segment="liver")
    other = series_volume(make_ct(n=3, seed=8, rows=48, columns=40))
    with pytest.raises(ValueError, match="does not refer to the volume's images"):
        read_segmentation(seg, other)
    with pytest.raises(ValueError, match="not a Segmentation"):
        read_segmentation(slices[0], volume)


def test_docstring_examples_run() -> None:
    import doctest

    import workbench.measure.seg

    result = doctest.testmod(workbench.measure.seg, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
