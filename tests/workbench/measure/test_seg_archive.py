"""SEG through the archive: export a mask, store it (STOW-RS), find it (QIDO-RS), read it back."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import RunningArchive
from tests.synth import make_ct
from tests.workbench.measure.sphere_series import sphere_series
from workbench.dicomweb.client import HttpArchiveClient
from workbench.errors import PermissionDeniedError
from workbench.imaging.volume import series_volume
from workbench.measure import region_grow, threshold
from workbench.measure.seg import segmentation
from workbench.measure.seg_archive import (
    find_segmentations,
    read_archived_masks,
    retrieve_segmentation,
    store_segmentation,
)


def test_round_trip_through_the_archive_gives_the_same_voxels(archive: RunningArchive) -> None:
    ball = sphere_series(seed=53, n=30, size=48)
    other = make_ct(n=6, seed=54, rows=48, columns=48,
                    study_uid=ball.study_uid, series_number=2)  # a second series in the study
    with HttpArchiveClient(archive.dicomweb, token=archive.token) as client:
        assert client.store_instances([*ball.slices, *other]).ok
        assert find_segmentations(client, ball.study_uid) == []
        volume = series_volume(ball.slices)
        mask = region_grow(volume, [ball.centre], lower=0)
        stored = store_segmentation(client, segmentation(mask, ball.slices, label="ball"))
        other_volume = series_volume(other)
        other_mask = threshold(other_volume, lower=-5000)  # every voxel
        store_segmentation(client, segmentation(other_mask, other, label="everything"))

        found = find_segmentations(client, ball.study_uid)
        assert stored in found and len(found) == 2
        assert retrieve_segmentation(client, stored).SegmentSequence[0].SegmentLabel == "ball"
        (back,) = read_archived_masks(client, ball.study_uid, volume)  # the other SEG is left out
        assert back.segmentation == stored and back.segment_number == 1
        assert int(back.mask.sum()) == int(mask.sum()) == ball.inside
        np.testing.assert_array_equal(back.mask.values, mask.values)
        (back_other,) = read_archived_masks(client, ball.study_uid, other_volume)
        assert back_other.label == "everything" and bool(back_other.mask.all())


def test_refusals_are_reported(archive: RunningArchive) -> None:
    ball = sphere_series(seed=55, n=6, size=32)
    volume = series_volume(ball.slices)
    seg = segmentation(region_grow(volume, [ball.centre], lower=0), ball.slices, label="b")
    with HttpArchiveClient(archive.dicomweb, token="wrong") as client, \
            pytest.raises(PermissionDeniedError, match="HTTP 401"):
        store_segmentation(client, seg)
    with HttpArchiveClient(archive.dicomweb, token=archive.token) as client:
        with pytest.raises(ValueError, match="not a Segmentation"):
            store_segmentation(client, ball.slices[0])
        with pytest.raises(ValueError, match="series_instance_uid"):
            read_archived_masks(client, ball.study_uid, volume.assign_attrs(
                series_instance_uid=""))
