"""The viewer's measurement tools against the real archive (no browser).

The controller is driven with the messages the browser's overlay sends
(``assets/annotate.js``): shapes in image pixels of a display index. The archive
measures them; the tests check the numbers against :mod:`workbench.measure` on the same
image, the text shown beside each shape, moving, deleting, refusals, and that the
annotations come back for a new viewer of the same series (the study reopened).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pydicom.dataset import Dataset

from tests.conftest import RunningArchive, start_archive, stop_archive
from tests.server.people import VALID_NPIS, Person, active_practice, stow
from tests.synth import from_bytes, make_ct, make_patient, to_bytes
from tests.workbench.viewer.test_reading import run
from workbench.dicomweb.client import HttpArchiveClient
from workbench.measure import calibration_from_dataset, measure_length
from workbench.viewer.annotations import MEASURE_TOOLS, AnnotationApi, AnnotationController
from workbench.viewer.reading import ReadingApp
from workbench.viewer.series import describe_series
from workbench.viewer.viewers import SliceViewer

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("annotations-ui")]

STUDY = "2.25.5500001"


@dataclass
class Setting:
    reader: Person
    slices: list[Dataset]
    client: HttpArchiveClient
    api: AnnotationApi
    series_uid: str
    archive: RunningArchive


@pytest.fixture(scope="module")
def setting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setting]:
    """An archive of its own (this folder's ``archive`` fixture is a local folder)."""
    archive = start_archive(tmp_path_factory.mktemp("annotations-ui") / "data")
    try:
        yield from _setting(archive)
    finally:
        stop_archive(archive)


def _setting(archive: RunningArchive) -> Iterator[Setting]:
    reader = active_practice(archive, "measure-ui@clinic.example", npi=VALID_NPIS[3],
                             practice="Measuring clinic")
    slices = make_ct(n=5, seed=55, rows=64, columns=64, patient=make_patient(55),
                     study_uid=STUDY, accession="ACC-MEASURE")
    r = stow(archive, reader.headers, slices)
    assert r.status_code == 200, r.text
    client = HttpArchiveClient(archive.dicomweb, token=reader.token)
    api = AnnotationApi(archive.url, token=reader.token)
    try:
        yield Setting(reader, slices, client, api, str(slices[0].SeriesInstanceUID), archive)
    finally:
        api.close()
        client.close()


def viewer_of(setting: Setting) -> tuple[SliceViewer, AnnotationController]:
    series = describe_series(setting.client.retrieve_series_metadata(STUDY, setting.series_uid))
    viewer = SliceViewer(series=series)
    controller = AnnotationController(setting.api, viewer)
    controller.load()
    return viewer, controller


def dataset_at(setting: Setting, viewer: SliceViewer, index: int) -> Dataset:
    assert viewer.series is not None
    uid = viewer.series.frames[index].sop_uid
    return next(ds for ds in setting.slices if ds.SOPInstanceUID == uid)


def test_tools_offered_and_length_measured_by_the_archive(setting: Setting) -> None:
    viewer, controller = viewer_of(setting)
    assert set(MEASURE_TOOLS) <= set(viewer.param.tool.objects or [])
    assert set(MEASURE_TOOLS) <= set(viewer.view.param.tool.objects or [])
    viewer.tool = "length"
    assert viewer.view.tool == "length"
    points = [[10.0, 12.0], [40.5, 50.25]]
    controller.handle({"type": "annotation", "action": "create", "kind": "length",
                       "index": 2, "points": points, "label": ""})
    assert controller.message == ""
    [item] = controller.items
    ds = dataset_at(setting, viewer, 2)
    expected = measure_length(points[0], points[1], calibration_from_dataset(ds, points))
    [quantity] = item["measurement"]["quantities"]
    assert quantity["value"] == pytest.approx(expected.value, rel=1e-12)
    assert item["sop_instance_uid"] == ds.SOPInstanceUID and item["frame"] is None
    [shape] = viewer.view.annotations
    assert shape["index"] == 2 and shape["points"] == points and shape["editable"]
    assert shape["text"] == f"{expected.value:.1f} mm (Pixel Spacing)"


def test_ellipse_statistics_move_and_delete(setting: Setting) -> None:
    viewer, controller = viewer_of(setting)
    before = len(controller.items)
    controller.handle({"action": "create", "kind": "ellipse", "index": 1,
                       "points": [[20.0, 20.0], [40.0, 44.0]], "label": ""})
    assert controller.message == ""
    item = controller.items[-1]
    quantities = {q["name"]: q for q in item["measurement"]["quantities"]}
    spacing = [float(v) for v in dataset_at(setting, viewer, 1).PixelSpacing]
    analytic = math.pi * 10 * 12 * spacing[0] * spacing[1]
    assert quantities["area"]["unit"] == "mm2"
    assert quantities["area"]["value"] == pytest.approx(analytic, rel=0.1)
    assert quantities["mean"]["unit"] == "HU"
    text = viewer.view.annotations[-1]["text"]
    assert text.startswith(f"{quantities['area']['value']:.1f} mm\u00b2 mean ")
    assert text.endswith("HU (Pixel Spacing)")

    # a handle moved: the archive measures again (the ellipse's canonical 4 points)
    moved = [list(p) for p in item["points"]]
    moved[0][1] -= 4.0
    moved[1][1] += 4.0
    controller.handle({"action": "update", "id": item["id"], "points": moved})
    assert controller.message == ""
    changed = next(a for a in controller.items if a["id"] == item["id"])
    area = {q["name"]: q for q in changed["measurement"]["quantities"]}["area"]["value"]
    assert area > quantities["area"]["value"] * 1.1

    viewer.view.annotation_selected = item["id"]
    controller.delete_selected()
    assert [a["id"] for a in controller.items].count(item["id"]) == 0
    assert len(controller.items) == before
    assert all(s["id"] != item["id"] for s in viewer.view.annotations)


def test_refusals_are_shown_and_the_overlay_reset(setting: Setting) -> None:
    viewer, controller = viewer_of(setting)
    shapes = list(viewer.view.annotations)
    controller.handle({"action": "create", "kind": "angle", "index": 0,
                       "points": [[1.0, 1.0], [2.0, 2.0]], "label": ""})
    assert "angle" in controller.message and "3" in controller.message
    controller.handle({"action": "create", "kind": "length", "index": 99,
                       "points": [[1.0, 1.0], [2.0, 2.0]]})
    assert "image 99 is not in the series" in controller.message
    controller.handle({"action": "create", "kind": "length", "index": 0,
                       "points": [[1.0, 1.0], [2.0, 900.0]]})
    assert controller.message.startswith("Measurement not saved:")
    assert viewer.view.annotations == shapes
    viewer.orientation = "coronal" if "coronal" in (viewer.param.orientation.objects or []) \
        else viewer.orientation
    if viewer.orientation == "coronal":
        controller.handle({"action": "create", "kind": "length", "index": 0,
                           "points": [[1.0, 1.0], [2.0, 2.0]]})
        assert "not on the coronal plane" in controller.message


def test_annotations_come_back_for_a_new_viewer(setting: Setting) -> None:
    viewer, controller = viewer_of(setting)
    controller.handle({"action": "create", "kind": "text", "index": 3,
                       "points": [[5.0, 5.0]], "label": "note <b>"})
    assert controller.message == ""
    again, reopened = viewer_of(setting)
    assert [a["id"] for a in reopened.items] == [a["id"] for a in controller.items]
    texts = [s["text"] for s in again.view.annotations if s["index"] == 3]
    assert "note <b>" in texts


def test_reading_app_opens_a_series_with_its_stored_annotations(setting: Setting) -> None:
    """The app fetches the study's annotations alongside the series metadata; the viewer
    it shows has them, and a series the app cannot measure on leaves nothing pending."""
    viewer, controller = viewer_of(setting)
    controller.handle({"action": "create", "kind": "text", "index": 1,
                       "points": [[4.0, 4.0]], "label": "opened with"})
    assert controller.message == ""
    app = ReadingApp(setting.client, annotations=setting.api)
    run(app.open_study(STUDY))
    measured = app.measurements[0]
    assert measured is not None and measured.message == ""
    assert "opened with" in [a.get("label") for a in measured.items]
    assert [a["id"] for a in measured.items] == [a["id"] for a in controller.items]


def test_browser_message_reaches_the_controller(setting: Setting) -> None:
    viewer, controller = viewer_of(setting)
    count = len(controller.items)
    viewer.view._handle_msg({"type": "annotation", "action": "create", "kind": "probe",
                             "index": 0, "points": [[30.0, 30.0]], "label": ""})
    assert len(controller.items) == count + 1
    probe: dict[str, Any] = controller.items[-1]
    [value] = probe["measurement"]["quantities"]
    assert value["unit"] == "HU"
    assert viewer.view.annotations[-1]["text"] == f"{value['value']:.1f} HU"


def test_sr_measurements_shown_read_only_and_exported_ones_once(setting: Setting) -> None:
    """A TID 1500 SR from elsewhere shows its length on its image, not editable; after the
    archive exports its own annotations as SR, each of them is still shown once."""
    import httpx

    from workbench.measure import ImageReference
    from workbench.measure.sr import measurement_report

    slice_ = setting.slices[1]
    length = measure_length((4, 4), (4, 24), calibration_from_dataset(slice_),
                            image=ImageReference.from_dataset(slice_))
    foreign = measurement_report([length], setting.slices, observer_name="Other^Reader")
    r = stow(setting.archive, setting.reader.headers, [from_bytes(to_bytes(foreign))])
    assert r.status_code == 200, r.text

    viewer, controller = viewer_of(setting)
    from_sr = [a for a in controller.items if a.get("origin") == "sr"]
    assert len(from_sr) == 1 and from_sr[0]["kind"] == "length"
    [shape] = [s for s in viewer.view.annotations if s["id"] is None]
    assert shape["editable"] is False
    assert shape["text"] == f"{length.value:.1f} mm (Pixel Spacing)"
    controller.handle({"action": "create", "kind": "length", "index": 2,
                       "points": [[10.0, 10.0], [20.0, 30.0]], "label": ""})
    assert controller.message == ""
    own = [a for a in controller.items if a.get("origin") != "sr"]

    r = httpx.post(f"{setting.archive.url}/api/studies/{STUDY}/annotations/sr",
                   headers=setting.reader.headers, json={}, timeout=60)
    assert r.status_code == 201, r.text
    _, again = viewer_of(setting)
    assert sorted(str(a.get("id")) for a in again.items) == sorted(
        [str(a["id"]) for a in own] + ["None"])
