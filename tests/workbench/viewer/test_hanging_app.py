"""Hanging protocols applied in the reading app: what goes where (no browser).

A local-folder archive holds a chest CT (24 slices of 2.5 mm) and its prior (12 slices of
5 mm, a year earlier) of one patient, and a lone CT of another patient. The shipped
"CT chest with prior" protocol must hang current beside prior, synchronised, in lung
window; its second stage three planes of the current CT; "save this hanging" must come
back first on the next open; key images are stored as KOS and marked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydicom.dataset import Dataset

from tests.synth import make_ct, make_patient, write_files
from tests.workbench.viewer.test_reading import run
from workbench.dicomweb.local_archive import LocalFolderArchiveClient
from workbench.hanging import (
    HangingProtocol,
    SeriesInfo,
    StudyInfo,
    ViewingPreferences,
    default_protocols,
    hang,
)
from workbench.viewer.hanging import (
    ShownSeries,
    grid_shape,
    initial_index,
    plan_hanging,
    protocol_from_layout,
)
from workbench.viewer.hanging_api import LocalProtocols
from workbench.viewer.key_images import study_key_images
from workbench.viewer.reading import ReadingApp
from workbench.viewer.viewers import SliceViewer

CURRENT, PRIOR, LONE = "2.25.88001", "2.25.88002", "2.25.88003"


@pytest.fixture
def studies() -> dict[str, list[Dataset]]:
    """The current chest CT, its prior with other spacing, a lone CT of someone else."""
    patient = make_patient(11)
    current = make_ct(n=24, seed=21, patient=patient, study_uid=CURRENT, study_date="20260310",
                      study_description="CT CHEST", accession="ACC-NOW")
    prior = make_ct(n=12, seed=22, patient=patient, study_uid=PRIOR, study_date="20250310",
                    study_description="CT CHEST", accession="ACC-THEN", slice_thickness=5.0)
    lone = make_ct(n=6, seed=23, patient=make_patient(12), study_uid=LONE,
                   study_date="20260101", study_description="CT CHEST", accession="ACC-LONE")
    return {CURRENT: current, PRIOR: prior, LONE: lone}


@pytest.fixture
def archive(studies: dict[str, list[Dataset]], tmp_path: Path
            ) -> Iterator[LocalFolderArchiveClient]:
    write_files([ds for group in studies.values() for ds in group], tmp_path)
    with LocalFolderArchiveClient(tmp_path) as client:
        yield client


def image_viewers(app: ReadingApp) -> list[SliceViewer]:
    return [v for v in app.viewers if isinstance(v, SliceViewer)]


def uid(datasets: list[Dataset]) -> str:
    return str(datasets[0].SeriesInstanceUID)


# -- the plan (pure) ----------------------------------------------------------------------
def series(uid: str, modality: str = "CT") -> SeriesInfo:
    return SeriesInfo({"SeriesInstanceUID": [uid], "Modality": [modality],
                       "Reconstructable": ["YES"], "NumberOfSeriesRelatedInstances": [30]})


def study(uid: str, date: str, *items: SeriesInfo) -> StudyInfo:
    return StudyInfo({"StudyInstanceUID": [uid], "StudyDate": [date],
                      "ModalitiesInStudy": ["CT"], "BodyPartExamined": ["CHEST"]}, items)


def test_plan_puts_current_beside_prior_and_keeps_sync_groups() -> None:
    ct_chest = default_protocols()[0]
    now, then = study("1.1", "20260310", series("1.1.1")), study("1.2", "20250310",
                                                                   series("1.2.1"))
    plan = plan_hanging(hang(ct_chest, now, [then]), now)
    assert plan is not None and plan.protocol is ct_chest
    first, second = plan.stages
    assert first.layout == "1x2"
    assert [(v.study_uid, v.series_uid, v.prior, v.window_preset) for v in first.viewports] == [
        ("1.1", "1.1.1", None, "lung"), ("1.2", "1.2.1", 0, "lung")]
    assert first.viewports[1].label == "prior 2025-03-10"
    assert sorted((g.kind, tuple(g.viewports)) for g in first.sync) == [
        ("scroll", (0, 1)), ("window", (0, 1)), ("zoom", (0, 1))]
    assert second.layout == "1x3"
    assert [v.orientation for v in second.viewports] == ["axial", "coronal", "sagittal"]
    assert [v.initial_slice for v in second.viewports] == ["first", "middle", "middle"]


def test_plan_without_prior_shrinks_the_grid_and_drops_its_sync() -> None:
    now = study("1.1", "20260310", series("1.1.1"))
    plan = plan_hanging(hang(default_protocols()[0], now, []), now)
    assert plan is not None
    assert plan.stages[0].layout == "1x1" and plan.stages[0].sync == ()
    assert [v.series_uid for v in plan.stages[0].viewports] == ["1.1.1"]


def test_plan_is_none_when_no_selector_finds_a_series() -> None:
    mr = study("1.1", "20260310", series("1.1.1", "MR"))
    assert plan_hanging(hang(default_protocols()[0], mr, []), mr) is None


def test_layout_names_and_initial_slices() -> None:
    assert grid_shape("1x3") == (1, 3) and grid_shape("4X4") == (4, 4)
    for wrong in ("5x1", "2", "axb"):
        with pytest.raises(ValueError, match="layout"):
            grid_shape(wrong)
    assert [initial_index(k, 5) for k in ("first", "middle", "last", -3, 2)] == [0, 2, 4, 0, 2]
    assert initial_index("middle", 0) == 0


def test_layout_saved_as_protocol_matches_like_studies_first() -> None:
    now = study("1.1", "20260310", series("1.1.1"))
    shown = [None, ShownSeries(SeriesInfo({"Modality": ["CT"], "SeriesDescription": ["AX"]}),
                               orientation="coronal", window_preset="bone", invert=True)]
    protocol = protocol_from_layout("mine", now, "1x2", shown)
    stage = protocol.stages[0]
    assert (stage.rows, stage.columns) == (1, 1)               # the empty viewport left out
    assert stage.viewports[0].orientation == "coronal" and stage.viewports[0].invert
    assert stage.viewports[0].initial_slice == "middle"
    assert protocol.priors == 0 and protocol.rules[0].required
    with pytest.raises(ValueError, match="no viewport"):
        protocol_from_layout("empty", now, "1x1", [None])


# -- applied by the reading app -------------------------------------------------------------
def test_ct_with_prior_opens_synchronised_side_by_side(
        archive: LocalFolderArchiveClient, studies: dict[str, list[Dataset]]) -> None:
    app = ReadingApp(archive, hanging=LocalProtocols())
    run(app.open_study(CURRENT))
    assert app.layout == "1x2" and app.grid.ncols == 2 and len(app.grid.objects) == 2
    left, right = image_viewers(app)
    assert left.series.study_uid == CURRENT and left.series.series_uid == uid(studies[CURRENT])
    assert right.series.study_uid == PRIOR and right.series.series_uid == uid(studies[PRIOR])
    for viewer in (left, right):
        assert (viewer.preset.lower(), viewer.level, viewer.window) == ("lung", -600, 1500)
        assert viewer.slice == 0 and viewer.orientation == "acquired"
    groups = left.view.sync["groups"]
    assert set(groups) == {"scroll", "window", "zoom"}
    assert right.view.sync["groups"] == groups               # the same tokens: one group
    assert left.view.sync["normals"]["acquired"] == pytest.approx([0, 0, 1])
    assert right.view.sync["normals"]["acquired"] == pytest.approx([0, 0, 1])
    bar = app.hanging.bar
    assert (bar.protocol, bar.stage, bar.stages, bar.stage_name, bar.own) == (
        "CT chest with prior", 0, 2, "lung with prior", False)
    # the browser's frame locations (mm along the normal) line the two spacings up
    here = left.series.frames[10].location
    nearest = min(range(len(right.series.frames)),
                  key=lambda k: abs(right.series.frames[k].location - here))
    assert nearest == 5


def test_next_stage_shows_three_planes_without_sync_of_scroll(
        archive: LocalFolderArchiveClient) -> None:
    app = ReadingApp(archive, hanging=LocalProtocols())
    run(app.open_study(CURRENT))
    run(app.hanging.show_stage(1))
    assert app.layout == "1x3" and len(app.grid.objects) == 3
    viewers = image_viewers(app)
    assert [v.orientation for v in viewers] == ["axial", "coronal", "sagittal"]
    assert viewers[0].slice == 0
    assert viewers[1].slice == viewers[1].count // 2 and viewers[1].count == 64   # rows
    assert all(v.preset.lower() == "mediastinum" for v in viewers)
    assert [set(v.view.sync["groups"]) for v in viewers] == [{"window"}] * 3
    assert app.hanging.bar.stage == 1 and app.hanging.bar.stage_name == "mediastinum MPR"
    with pytest.raises(ValueError, match="2 stages"):
        run(app.hanging.show_stage(2))


def test_series_chosen_while_the_protocol_hangs_opens_after_it(
        archive: LocalFolderArchiveClient, studies: dict[str, list[Dataset]]) -> None:
    """A reader who clicks a series card before the protocol's viewers are ready gets
    that series in the first viewport: the protocol does not overwrite it afterwards."""
    app = ReadingApp(archive, hanging=LocalProtocols())
    chosen = uid(studies[CURRENT])

    async def click_during_open() -> None:
        opening = asyncio.ensure_future(app._guarded(app.open_study, CURRENT))
        while app.page != "study":          # the series cards are on screen
            await asyncio.sleep(0.001)
        assert app.hanging is not None and app.hanging.plan is None   # still hanging
        await app._guarded(app.open_series, chosen)
        await opening

    run(click_during_open())
    assert app.message == "" and (app.busy, app.done) == (0, 2)
    first = app.viewers[0]
    assert isinstance(first, SliceViewer) and first.series.series_uid == chosen
    # the reader's own choice: the dataset's window, not the protocol's lung preset
    assert first.preset == "" and (first.level, first.window) != (-600, 1500)


def test_study_without_prior_opens_one_large_viewport(archive: LocalFolderArchiveClient) -> None:
    app = ReadingApp(archive, hanging=LocalProtocols())
    run(app.open_study(LONE))
    assert app.layout == "1x1" and len(image_viewers(app)) == 1
    assert image_viewers(app)[0].view.sync["groups"] == {}


def test_without_a_protocol_source_the_app_opens_as_before(
        archive: LocalFolderArchiveClient) -> None:
    app = ReadingApp(archive)
    run(app.open_study(CURRENT))
    assert app.layout == "1x1" and app.hanging is None
    assert image_viewers(app)[0].view.sync == {}


def test_saved_hanging_wins_on_the_next_open(archive: LocalFolderArchiveClient) -> None:
    source = LocalProtocols()
    app = ReadingApp(archive, hanging=source)
    run(app.open_study(CURRENT))
    left, right = image_viewers(app)
    right.invert = True
    right.preset = "mediastinum" if "mediastinum" in right.param.preset.objects else "MEDIASTINUM"
    app.hanging.save_name = "My chest"
    saved: HangingProtocol = run(app.hanging.save())
    assert [p.name for p in source.own] == ["My chest"]
    assert saved.priors == 1 and saved.stages[0].viewports[1].invert
    assert len(saved.stages) == 3                               # then the shipped stages
    again = ReadingApp(archive, hanging=source)
    run(again.open_study(CURRENT))
    bar = again.hanging.bar
    assert (bar.protocol, bar.own, bar.stages) == ("My chest", True, 3)
    _, prior = image_viewers(again)
    assert prior.series.study_uid == PRIOR and prior.invert
    assert prior.preset.lower() == "mediastinum"
    app.hanging.save_name = " "
    with pytest.raises(ValueError, match="name"):
        run(app.hanging.save())


def test_flagged_key_image_is_stored_marked_and_listed(
        archive: LocalFolderArchiveClient, studies: dict[str, list[Dataset]]) -> None:
    app = ReadingApp(archive, hanging=LocalProtocols())
    run(app.open_study(CURRENT))
    left, right = image_viewers(app)
    left.slice = 7
    left.view.touched += 1                     # the reader pressed in the left viewport
    app.hanging.note = "nodule, right upper lobe"
    entry = run(app.hanging.flag())
    assert entry.sop_uid == left.series.frames[7].sop_uid and entry.frames is None
    assert left.view.key_images == [7] and right.view.key_images == []
    stored = study_key_images(archive, CURRENT)
    assert [(e.sop_uid, e.note) for e in stored] == [(entry.sop_uid, "nodule, right upper lobe")]
    assert app.hanging.note == ""
    # reopened: the badge and the list come from the KOS in the archive
    again = ReadingApp(archive, hanging=LocalProtocols())
    run(again.open_study(CURRENT))
    assert image_viewers(again)[0].view.key_images == [7]
    cards = again.hanging.key_list.entries
    assert len(cards) == 1 and cards[0]["note"] == "nodule, right upper lobe"
    assert cards[0]["thumbnail"].endswith(f"/instances/{entry.sop_uid}/thumbnail")
    run(again.hanging.show_key(0))
    assert image_viewers(again)[0].slice == 7


def test_planes_are_not_flagged(archive: LocalFolderArchiveClient) -> None:
    app = ReadingApp(archive, hanging=LocalProtocols())
    run(app.open_study(CURRENT))
    run(app.hanging.show_stage(1))
    viewers = image_viewers(app)
    viewers[1].view.touched += 1
    with pytest.raises(ValueError, match="coronal plane"):
        run(app.hanging.flag())


@pytest.mark.parametrize("source", [
    LocalProtocols(roles=("referring_physician",)),
    LocalProtocols(preferences=ViewingPreferences(open_key_images_first=True))])
def test_recipients_open_on_key_images_first(archive: LocalFolderArchiveClient,
                                             source: Any) -> None:
    empty = ReadingApp(archive, hanging=source)
    run(empty.open_study(CURRENT))              # no key images yet: the protocol
    assert empty.hanging.bar.protocol == "CT chest with prior"
    reader = ReadingApp(archive, hanging=LocalProtocols())
    run(reader.open_study(CURRENT))
    reader.viewers[0].slice = 4
    entry = run(reader.hanging.flag())
    app = ReadingApp(archive, hanging=source)
    run(app.open_study(CURRENT))
    assert app.layout == "1x1" and app.hanging.bar.protocol == "Key images"
    (viewer,) = image_viewers(app)
    assert viewer.slice == 4 and viewer.series.frames[4].sop_uid == entry.sop_uid
    assert viewer.view.key_images == [4]


def test_default_window_preset_from_preferences(archive: LocalFolderArchiveClient) -> None:
    source = LocalProtocols(preferences=ViewingPreferences(window_presets={"CT": "bone"}))
    app = ReadingApp(archive, hanging=source)
    run(app.open_study(LONE))               # the protocol names lung: it wins
    assert image_viewers(app)[0].preset.lower() == "lung"
    source.own = [HangingProtocol.model_validate({
        "name": "plain", "rules": [{"attribute": "ModalitiesInStudy", "value": "CT",
                                    "weight": 100}],
        "series": [{"name": "ct"}], "stages": [{"name": "one", "viewports": [{"series": "ct"}]}]})]
    app = ReadingApp(archive, hanging=source)
    run(app.open_study(LONE))               # no preset in the protocol: the reader's
    assert image_viewers(app)[0].preset.lower() == "bone"
