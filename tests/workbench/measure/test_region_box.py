"""Region growing floods a growing box around each seed: it must find what a whole-volume
flood finds, also for paths that leave the first box and come back."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.segmentation import flood

from tests.workbench.measure.phantoms import affine, volume_from
from workbench.measure import region_grow, segment, threshold


def whole_volume_flood(values: np.ndarray, voxel: tuple[int, int, int], lower: float,
                       connectivity: int) -> np.ndarray:
    return np.asarray(flood(values >= lower, voxel, connectivity=connectivity))


def test_a_path_that_leaves_the_first_box_and_returns() -> None:
    values = np.zeros((90, 90, 90), dtype=np.float32)
    # a hairpin: out 70 voxels along x, across in y, back along x to near the seed
    values[45, 40, 10:80] = 1
    values[45, 40:50, 79] = 1
    values[45, 49, 20:80] = 1
    values[45, 44:50, 20] = 1  # ends 4 voxels from the seed's row, inside the first box
    volume = volume_from(values, affine((1.0, 1.0, 1.0), (0.0, 0.0, 0.0)))
    grown = region_grow(volume, [(10.0, 40.0, 45.0)], lower=0.5)
    expected = whole_volume_flood(values, (45, 40, 10), 0.5, 1)
    np.testing.assert_array_equal(grown.values, expected)
    assert int(grown.sum()) == 70 + 9 + 59 + 5


@pytest.mark.parametrize("flood_limit", [segment._FLOOD_LIMIT, 1000])  # 1000: labelling
@pytest.mark.parametrize("connectivity", [1, 2, 3])
def test_random_blobs_match_a_whole_volume_flood(connectivity: int, flood_limit: int,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(segment, "_FLOOD_LIMIT", flood_limit)
    rng = np.random.default_rng(connectivity)
    noise = ndimage.gaussian_filter(rng.standard_normal((70, 80, 90)), 2.0)
    values = noise.astype(np.float32)
    volume = volume_from(values, affine((2.0, 0.8, 0.7), (-30.0, 12.0, 5.0)))
    matrix = np.asarray(volume.attrs["affine"])
    allowed = threshold(volume, lower=0.0).values
    picked = np.argwhere(allowed)[rng.choice(int(allowed.sum()), 5, replace=False)]
    for z, y, x in picked:
        seed = (matrix[:3, :3] @ np.array([x, y, z]) + matrix[:3, 3]).tolist()
        grown = region_grow(volume, [seed], lower=0.0, connectivity=connectivity)
        expected = whole_volume_flood(values, (int(z), int(y), int(x)), 0.0, connectivity)
        np.testing.assert_array_equal(grown.values, expected)


def test_no_bounds_grows_over_the_whole_volume() -> None:
    values = np.arange(40 * 50 * 60, dtype=np.float32).reshape(40, 50, 60)
    volume = volume_from(values, affine((1.0, 1.0, 1.0), (0.0, 0.0, 0.0)))
    assert bool(region_grow(volume, [(1.0, 2.0, 3.0)]).all())
    assert int(region_grow(volume, [(1.0, 2.0, 3.0)], upper=float(values[20, 0, 0])).sum()) \
        == 20 * 50 * 60 + 1


def test_a_seed_on_padding_is_refused() -> None:
    values = np.zeros((8, 8, 8), dtype=np.float32)
    values[2, 3, 4] = np.nan
    volume = volume_from(values, affine((1.0, 1.0, 1.0), (0.0, 0.0, 0.0)))
    with pytest.raises(ValueError, match=r"seed \(4.0, 3.0, 2.0\) mm lies on a padding voxel"):
        region_grow(volume, [(4.0, 3.0, 2.0)], lower=-1)
