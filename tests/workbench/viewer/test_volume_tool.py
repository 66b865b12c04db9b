"""The viewer's volume tool against a real archive (no browser).

The controller is driven with the messages ``assets/volume_tool.js`` sends: a seed pixel
of a display index, brush strokes in image pixels. The series is a CT of a ball of known
radius (``tests/workbench/measure/sphere_series.py``) stored by a reader; the region
grown from a click inside must be the ball (voxel count exact, surface volume within the
library's 1 %), the overlay sent to the browser must hold exactly the mask, a brush
stroke must change the mask exactly as :func:`workbench.measure.segment.brush` does, and
the SEG saved must come back voxel for voxel when the series is opened again.
"""

from __future__ import annotations

import asyncio
import doctest
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import workbench.viewer.volume_region as volume_region
from tests.conftest import start_archive, stop_archive
from tests.server.people import VALID_NPIS, Person, active_practice, stow
from tests.workbench.measure.sphere_series import INSIDE_HU, RADIUS, SphereSeries, sphere_series
from workbench.dicomweb.client import HttpArchiveClient
from workbench.imaging.volume import series_volume
from workbench.measure.seg_archive import find_segmentations
from workbench.measure.segment import brush
from workbench.viewer.series import describe_series
from workbench.viewer.viewers import SliceViewer
from workbench.viewer.volume_region import mask_overlay
from workbench.viewer.volume_tool import VOLUME_TOOLS, VolumeController

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("volume-tool")]

BALL_ML = 4 / 3 * math.pi * RADIUS**3 / 1000


@dataclass
class Setting:
    reader: Person
    ball: SphereSeries
    client: HttpArchiveClient
    seed: tuple[int, int, int]   # display index, row, col of the ball's centre


@pytest.fixture(scope="module")
def setting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setting]:
    archive = start_archive(tmp_path_factory.mktemp("volume-tool") / "data")
    try:
        reader = active_practice(archive, "volume-ui@clinic.example", npi=VALID_NPIS[4],
                                 practice="Volume clinic")
        ball = sphere_series(seed=61, n=48, size=52)
        r = stow(archive, reader.headers, ball.slices)
        assert r.status_code == 200, r.text
        with HttpArchiveClient(archive.dicomweb, token=reader.token) as client:
            viewer, _ = open_viewer(client, ball)
            yield Setting(reader, ball, client, seed_of(viewer, ball))
    finally:
        stop_archive(archive)


def open_viewer(client: HttpArchiveClient, ball: SphereSeries
                ) -> tuple[SliceViewer, VolumeController]:
    """A viewer of the ball's series with the volume tool, as the reading app makes it."""
    series_uid = str(ball.slices[0].SeriesInstanceUID)
    series = describe_series(client.retrieve_series_metadata(ball.study_uid, series_uid))
    viewer = SliceViewer(series=series)
    return viewer, VolumeController(client, viewer)


def seed_of(viewer: SliceViewer, ball: SphereSeries) -> tuple[int, int, int]:
    """``(display index, row, col)`` of the voxel holding the ball's centre."""
    volume = series_volume(ball.slices)
    matrix = np.asarray(volume.attrs["affine"])
    x, y, z = np.linalg.solve(matrix[:3, :3], np.asarray(ball.centre) - matrix[:3, 3])
    k, row, col = (int(round(v)) for v in (z, y, x))
    uid = str(volume.coords["sop_instance_uid"].values[k])
    assert viewer.series is not None
    index = next(i for i, f in enumerate(viewer.series.frames) if f.sop_uid == uid)
    return index, row, col


def seed_message(setting: Setting) -> dict[str, Any]:
    index, row, col = setting.seed
    return {"type": "volume", "action": "seed", "index": index, "row": row, "col": col}


def voxels(controller: VolumeController) -> int:
    """The voxel count the controller measured last."""
    stats: Any = controller.stats
    return int(stats.voxel_count)


def decoded(overlay: dict[str, Any], rows: int, columns: int, index: int) -> np.ndarray:
    """The boolean image that the browser draws for display index `index`."""
    flat = np.zeros(rows * columns, dtype=bool)
    runs = overlay["slices"].get(str(index), [])
    for start, length in zip(runs[0::2], runs[1::2], strict=True):
        flat[start:start + length] = True
    return flat.reshape(rows, columns)


def test_click_grows_the_ball_measures_it_and_sends_the_overlay(setting: Setting) -> None:
    viewer, controller = open_viewer(setting.client, setting.ball)
    assert set(VOLUME_TOOLS) <= set(viewer.param.tool.objects or [])
    assert set(VOLUME_TOOLS) <= set(viewer.view.param.tool.objects or [])
    statuses: list[str] = []
    controller.param.watch(lambda e: statuses.append(e.new), "status")
    viewer.view._handle_msg(seed_message(setting))   # what the browser's click sends
    assert controller.message == ""
    stats = controller.stats
    inside = setting.ball.inside
    assert stats.voxel_count == inside
    assert stats.voxel_volume_ml == pytest.approx(inside / 1000, rel=1e-12)
    assert abs(stats.surface_volume_ml / BALL_ML - 1) < 0.01
    assert abs(stats.surface_area_mm2 / (4 * math.pi * RADIUS**2) - 1) < 0.02
    assert (stats.mean, stats.std, stats.unit) == (INSIDE_HU, 0.0, "HU")
    assert (controller.lower, controller.upper) == (INSIDE_HU - 100, INSIDE_HU + 100)
    assert controller.result.startswith(f"{inside / 1000:.2f} mL ({inside} voxels); surface ")
    assert "mean 60.0 HU SD 0.0 HU" in controller.result
    assert controller.result.endswith("(voxel spacing 1.00 x 1.00 x 1.00 mm)")
    assert any(s.startswith("Loading the series: ") for s in statuses)
    assert "Measuring..." in statuses and controller.status == ""

    overlay = viewer.view.volume_mask
    assert overlay["voxels"] == inside
    assert sum(sum(runs[1::2]) for runs in overlay["slices"].values()) == inside
    assert controller.mask is not None
    mask = controller.mask.values
    rows, columns = mask.shape[1:]
    assert viewer.series is not None
    for index, frame in enumerate(viewer.series.frames):
        z = list(controller.mask.coords["sop_instance_uid"].values).index(frame.sop_uid)
        np.testing.assert_array_equal(decoded(overlay, rows, columns, index), mask[z])


def test_brush_stroke_changes_the_mask_as_segment_brush(setting: Setting) -> None:
    _, controller = open_viewer(setting.client, setting.ball)
    controller.handle(seed_message(setting))
    assert controller.mask is not None
    index, row, col = setting.seed
    points = [[float(row), float(col) + 19.0], [float(row) + 4.5, float(col) + 27.0]]
    controller.brush_radius = 3.0
    before = controller.mask
    centres = controller.stroke_centres(index, points, 3.0)
    steps = np.linalg.norm(np.diff(np.asarray(centres), axis=0), axis=1)
    assert steps.max() <= 3.0 / 4 + 1e-9 and len(centres) > 2
    expected = before
    for centre in centres:
        expected = brush(expected, centre, 3.0, in_plane=True)
    controller.handle({"type": "volume", "action": "brush", "index": index, "points": points})
    assert controller.message == ""
    np.testing.assert_array_equal(controller.mask.values, expected.values)
    added = int(expected.sum()) - int(before.sum())
    assert added > 0 and controller.stats.voxel_count == int(expected.sum())
    assert controller.viewer.view.volume_mask["voxels"] == int(expected.sum())

    controller.brush_mode = "erase"
    painted = controller.mask
    erase = [[float(row), float(col)]]
    expected = brush(painted, controller.stroke_centres(index, erase, 3.0)[0], 3.0,
                     erase=True, in_plane=True)
    controller.handle({"type": "volume", "action": "brush", "index": index, "points": erase})
    np.testing.assert_array_equal(controller.mask.values, expected.values)
    assert controller.stats.voxel_count == int(painted.sum()) - int(
        (painted.values & ~expected.values).sum())


def test_painting_without_a_region_and_erasing_it_all(setting: Setting) -> None:
    viewer, controller = open_viewer(setting.client, setting.ball)
    index = setting.seed[0]
    controller.handle({"type": "volume", "action": "brush", "index": index,
                       "points": [[2.0, 2.0]]})   # no region yet: the brush starts one
    assert controller.message == "" and voxels(controller) > 0
    assert viewer.view.volume_mask["voxels"] == voxels(controller)
    assert list(viewer.view.volume_mask["slices"]) == [str(index)]
    controller.brush_mode = "erase"
    controller.handle({"type": "volume", "action": "brush", "index": index,
                       "points": [[2.0, 2.0]]})
    assert controller.stats is None and controller.result == "The region is empty (0 voxels)."
    assert viewer.view.volume_mask["voxels"] == 0 and viewer.view.volume_mask["slices"] == {}


def test_saved_seg_is_read_back_when_the_series_is_opened_again(setting: Setting) -> None:
    _, controller = open_viewer(setting.client, setting.ball)
    controller.handle({"type": "volume", "action": "save"})
    assert controller.message == "Volume tool: there is no region to save: click a seed first"
    controller.handle(seed_message(setting))
    controller.label = "ball"
    controller.handle({"type": "volume", "action": "save"})
    assert controller.message.startswith(f"Stored SEG 'ball' ({setting.ball.inside} voxels) as ")
    [stored] = find_segmentations(setting.client, setting.ball.study_uid)
    assert stored.sop_instance_uid in controller.message
    assert controller.param.stored.objects == ["", "1: ball"]

    viewer, reopened = open_viewer(setting.client, setting.ball)
    reopened.handle({"type": "volume", "action": "load"})
    assert [m.label for m in reopened.masks] == ["ball"]
    assert reopened.masks[0].segmentation == stored
    assert controller.mask is not None and reopened.mask is not None
    np.testing.assert_array_equal(reopened.mask.values, controller.mask.values)
    assert reopened.stats.voxel_count == setting.ball.inside
    assert reopened.stored == "1: ball"
    assert viewer.view.volume_mask["voxels"] == setting.ball.inside
    assert reopened.result == controller.result
    assert reopened.message == "1 stored segment(s) of this series: 1 shown"


def test_presets_ranges_and_refusals(setting: Setting) -> None:
    viewer, controller = open_viewer(setting.client, setting.ball)
    assert "soft tissue" in (controller.param.preset.objects or [])
    controller.preset = "fat"
    assert (controller.lower, controller.upper) == (-190.0, -30.0)
    controller.handle(seed_message(setting))   # the ball (60 HU) is not fat
    assert "has value 60, outside [-190.0, -30.0]" in controller.message
    assert controller.stats is None and controller.status == ""
    controller.upper = 80.0                    # typed by the reader
    assert controller.preset == "custom"
    controller.lower = 0.0
    controller.handle(seed_message(setting))
    assert controller.message == "" and voxels(controller) == setting.ball.inside
    controller.handle({"type": "volume", "action": "regrow"})
    assert voxels(controller) == setting.ball.inside
    controller.handle({"type": "volume", "action": "seed", "index": 0, "row": 99, "col": 0})
    assert controller.message == "Volume tool: pixel (99, 0) lies outside the 52 x 52 image"
    controller.handle({"type": "volume", "action": "twirl"})
    assert controller.message == "Volume tool: unknown volume action 'twirl'"
    viewer.orientation = "coronal"
    controller.handle(seed_message(setting))
    assert "acquired images, not on the coronal plane" in controller.message


def test_async_handling_reports_progress_on_the_loop(setting: Setting) -> None:
    _, controller = open_viewer(setting.client, setting.ball)
    statuses: list[str] = []
    controller.param.watch(lambda e: statuses.append(e.new), "status")

    async def click() -> None:
        controller.received(seed_message(setting))   # a task on the running loop
        await asyncio.gather(*controller._tasks)

    asyncio.run(click())
    assert controller.stats.voxel_count == setting.ball.inside
    assert statuses[0] == "Working..." and statuses[-1] == ""
    assert any(s.startswith("Loading the series: ") for s in statuses)


def test_overlay_runs_and_doctests() -> None:
    mask = np.zeros((3, 2, 4), dtype=bool)
    mask[0, 0, 3] = mask[0, 1, 0] = True          # a run across the row end
    mask[2, 1, 1:3] = True
    assert mask_overlay(mask, [7, 8, 9]) == {"7": [3, 2], "9": [5, 2]}
    assert mask_overlay(np.zeros((2, 2, 2), dtype=bool), [0, 1]) == {}
    result = doctest.testmod(volume_region)
    assert result.failed == 0 and result.attempted > 0
