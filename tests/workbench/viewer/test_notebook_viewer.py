"""``Viewer(dataarray)`` and ``Viewer(study_uid)``, and the planes the browser cuts.

Setting a parameter of the browser component stands for what the browser reports (the
reader scrolled, dragged, clicked); the viewer's parameters must follow, and the other
way round. The browser's reformat is index arithmetic described by
:class:`~workbench.viewer.mpr.ReformatPlane`; applied here with numpy, it must give the
library's :func:`~workbench.imaging.mpr.reformat` exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import xarray as xr
from pydicom.dataset import Dataset

from tests.synth import make_ct
from tests.workbench.viewer.conftest import OTHER_STUDY, STUDY, series_uid
from workbench.dicomweb.local_archive import LocalFolderArchiveClient
from workbench.errors import WorkbenchError
from workbench.imaging.geometry import VolumeGeometry
from workbench.imaging.mpr import DISPLAY_ORIENTATIONS, reformat
from workbench.imaging.volume import series_volume, volume_dataarray
from workbench.viewer import Viewer
from workbench.viewer.arrays import describe_dataarray
from workbench.viewer.mpr import ReformatPlane, reformat_planes
from workbench.viewer.series import describe_series

Instances = dict[str, list[Dataset]]


@pytest.fixture(scope="module")
def volume() -> xr.DataArray:
    return series_volume(make_ct(n=5, rows=12, columns=10, seed=8))


def cut(values: np.ndarray, plane: ReformatPlane) -> np.ndarray:
    """What assets/mpr.js computes, voxel by voxel: every image of the plane."""
    out = np.empty(plane.shape, dtype=values.dtype)
    for index in np.ndindex(*plane.shape):
        out[index] = values[plane.to_volume(index)]
    return out


# -- the planes ---------------------------------------------------------------------------


@pytest.mark.parametrize("cosines", [
    ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),        # axial
    ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),       # coronal
    ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),       # sagittal
    ((-1.0, 0.0, 0.0), (0.0, 0.0, 1.0)),       # coronal, flipped both ways
    ((0.0, 0.0, 1.0), (0.0, -1.0, 0.0)),       # rows and columns swapped
])
def test_browser_planes_match_the_library_reformat(cosines: tuple[Any, Any]) -> None:
    row, col = cosines
    normal = np.cross(row, col)
    origins = tuple(tuple(float(v) for v in np.asarray((3.0, -2.0, 7.0)) + 2.0 * k * normal)
                    for k in range(4))
    geometry = VolumeGeometry(origins, row, col, (0.5, 0.8), 6, 5, 2.0)  # type: ignore[arg-type]
    values = np.random.default_rng(1).normal(size=geometry.shape).astype(np.float32)
    volume = volume_dataarray(values, geometry)
    planes = reformat_planes(geometry)
    assert set(planes) == {"axial", "coronal", "sagittal"}
    for name, plane in planes.items():
        expected = reformat(volume, name)  # type: ignore[arg-type]
        np.testing.assert_array_equal(cut(values, plane), expected.values)
        assert plane.spacing == pytest.approx(expected.attrs["spacing"])
        along = np.cross(*DISPLAY_ORIENTATIONS[name])
        origins = np.asarray(expected.attrs["image_positions_patient"])
        assert plane.first == pytest.approx(float(origins[0] @ along), abs=1e-3)
        assert plane.step == pytest.approx(float((origins[1] - origins[0]) @ along))
        for index in [(0, 0, 0), tuple(n - 1 for n in plane.shape), (1, 2, 3)]:
            assert plane.from_volume(plane.to_volume(index)) == index   # type: ignore[arg-type]


def test_plane_positions_and_markers(volume: xr.DataArray) -> None:
    from workbench.imaging.volume import geometry_of
    planes = reformat_planes(geometry_of(volume))
    coronal, sagittal = planes["coronal"], planes["sagittal"]
    assert coronal.shape == (12, 5, 10) and sagittal.shape == (10, 5, 12)
    assert (coronal.markers.top, coronal.markers.bottom, coronal.markers.left) == ("H", "F", "R")
    assert (sagittal.markers.left, sagittal.markers.right) == ("A", "P")
    # image k of the coronal stack lies k rows behind the first (LPS y grows posterior)
    first_row_y = float(np.asarray(volume.attrs["image_positions_patient"][0])[1])
    assert coronal.first == pytest.approx(first_row_y) and coronal.step == pytest.approx(0.7)


def test_planes_need_a_regular_aligned_volume() -> None:
    tilted = VolumeGeometry(((0.0, 0.0, 0.0), (0.0, 1.0, 2.0), (0.0, 2.0, 4.0)),
                            (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (1.0, 1.0), 4, 4)
    oblique = VolumeGeometry(((0.0, 0.0, 0.0), (0.0, 0.0, 2.0)), (0.8, 0.6, 0.0),
                             (-0.6, 0.8, 0.0), (1.0, 1.0), 4, 4)
    single = VolumeGeometry(((0.0, 0.0, 0.0),), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0),
                            (1.0, 1.0), 4, 4)
    assert reformat_planes(tilted) == {} and reformat_planes(oblique) == {}
    assert reformat_planes(single) == {}


def test_archive_series_offer_planes_only_for_volumes(
        archive: LocalFolderArchiveClient, instances: Instances) -> None:
    ct = describe_series(archive.retrieve_series_metadata(STUDY, series_uid(instances, "ct")))
    us = describe_series(archive.retrieve_series_metadata(STUDY, series_uid(instances, "us")))
    assert set(ct.planes) == {"axial", "coronal", "sagittal"} and ct.geometry is not None
    assert ct.to_js()["planes"]["coronal"]["shape"] == [64, 6, 64]
    assert us.planes == {} and us.to_js()["planes"] == {}


# -- Viewer(dataarray) --------------------------------------------------------------------


def test_dataarray_pixels_come_from_the_kernel(volume: xr.DataArray) -> None:
    gappy = volume.copy()
    gappy.values[2, 0, 0] = np.nan                  # padding
    viewer = Viewer(gappy)
    js = viewer.view.series
    assert js["kernel"] and js["frames"][0]["url"] == "" and js["formats"][0]["float"]
    assert (viewer.window, viewer.level) == (400.0, 40.0)       # the volume's window
    assert js["spacing"][:2] == [0.7, 0.7] and js["markers"]["top"] == "A"
    sent: list[dict[str, Any]] = []
    viewer.view._send_msg = sent.append                         # what goes to the browser
    viewer.view._handle_msg({"type": "frames", "key": js["key"], "indices": [2, 3]})
    answer = sent[-1]
    assert answer["indices"] == [2, 3] and answer["key"] == js["key"]
    frames = np.frombuffer(answer["data"], dtype="<f4").reshape(2, 12, 10)
    np.testing.assert_array_equal(frames[1], volume.values[3])
    assert frames[0, 0, 0] == np.nanmin(gappy.values)           # NaN shows as the lowest
    viewer.view._handle_msg({"type": "frames", "key": js["key"], "indices": [99]})
    assert "frames [99]" in sent[-1]["error"]


def test_dataarray_viewer_params_both_ways(volume: xr.DataArray) -> None:
    viewer = Viewer(volume)
    viewer.view.index = 3                                        # the reader scrolled
    viewer.view.param.update(window_center=-500.0, window_width=1200.0)
    assert viewer.slice == 3 and (viewer.level, viewer.window) == (-500.0, 1200.0)
    viewer.param.update(slice=1, level=50.0, window=350.0)       # the notebook sets them
    assert (viewer.view.index, viewer.view.window_center, viewer.view.window_width) == \
        (1, 50.0, 350.0)
    viewer.view.selected = [1, 4, 7]                             # the reader clicked
    assert viewer.selection == (1, 4, 7)
    expected = volume.attrs["image_positions_patient"][1]
    x, y, z = viewer.selection_mm or (0.0, 0.0, 0.0)
    assert (x, y, z) == pytest.approx((expected[0] + 7 * 0.7, expected[1] + 4 * 0.7,
                                       expected[2]))
    viewer.selection = (4, 2, 3)                                 # the notebook selects
    assert viewer.view.selected == [4, 2, 3] and viewer.slice == 4
    with pytest.raises(ValueError, match="outside"):
        viewer.selection = (7, 2, 3)


def test_planes_from_python_and_selection_across_them(volume: xr.DataArray) -> None:
    viewer = Viewer(volume)
    viewer.selection = (2, 6, 4)
    viewer.orientation = "coronal"
    assert viewer.view.orientation == "coronal" and viewer.count == 12
    assert viewer.param.slice.bounds == (0, 11)
    assert viewer.slice == 6 and viewer.view.index == 6          # the plane through it
    assert viewer.view.selected == [6, 2, 4]                     # slices run upwards
    viewer.view.selected = [6, 0, 9]                             # a click in the coronal
    assert viewer.selection == (4, 6, 9)
    viewer.selection = None
    viewer.orientation = "sagittal"
    assert viewer.count == 10 and viewer.slice == 5              # its middle image
    viewer.orientation = "acquired"
    assert viewer.count == 5 and viewer.slice == 2               # back where it was
    assert viewer.view.orientation == "acquired"


def test_arrays_of_other_shapes() -> None:
    image, frames = describe_dataarray(xr.DataArray(np.ones((3, 4)), dims=("y", "x"),
                                                    name="mask"))
    assert len(image.frames) == 1 and image.overlay == {"top_left": ["mask"]}
    assert image.spacing.source == "none" and image.planes == {}
    assert len(frames([0])) == 3 * 4 * 4
    loop = Viewer(xr.DataArray(np.zeros((4, 3, 2)), dims=("frame", "y", "x")))
    assert loop.count == 4 and loop.param.orientation.objects == ["acquired"]
    with pytest.raises(ValueError, match="colour"):
        describe_dataarray(xr.DataArray(np.zeros((2, 2, 3)), dims=("y", "x", "rgb")))
    with pytest.raises(ValueError, match="expected"):
        describe_dataarray(xr.DataArray(np.zeros((2, 2, 2)), dims=("a", "y", "x")))


# -- Viewer(study_uid) --------------------------------------------------------------------


def test_study_viewer_through_the_archive_client(
        archive: LocalFolderArchiveClient, instances: Instances) -> None:
    viewer = Viewer(STUDY, client=archive, dicomweb_root="/dicom-web")
    ct, us = series_uid(instances, "ct"), series_uid(instances, "us")
    assert viewer.study_uid == STUDY and viewer.series_uid in viewer.param.series_uid.objects
    assert set(viewer.param.series_uid.objects) == {ct, us, series_uid(instances, "xa")}
    viewer.series_uid = ct
    assert viewer.count == 6 and viewer.view.series["frames"][0]["url"].startswith(
        f"/dicom-web/studies/{STUDY}/series/{ct}/")
    viewer.view.index = 2
    assert viewer.slice == 2
    viewer.series_uid = us                                       # another series of it
    assert viewer.series is not None and viewer.series.series_uid == us and viewer.slice == 0
    assert Viewer(STUDY, ct, client=archive).series_uid == ct
    with pytest.raises(WorkbenchError, match="not an image series"):
        Viewer(STUDY, series_uid(instances, "ecg"), client=archive)
    with pytest.raises(WorkbenchError, match="no image series"):
        Viewer("2.25.999999", client=archive)
    assert Viewer(OTHER_STUDY, client=archive).count == 2
    with pytest.raises(TypeError, match="DataArray or a Study Instance UID"):
        Viewer(3)  # type: ignore[arg-type]
