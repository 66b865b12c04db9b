"""The Gated SPECT dashboard without a browser: what it shows is what the analysis found.

The stress/rest pair of the session fixtures is shown with its analysis (so only the
reslicing runs here); a small phantom is analysed in the background (progress) and read
from a local-folder archive through the reading app's hook.
"""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.workbench.spect.cases import SMALL
from workbench.dicomweb.local_archive import LocalFolderArchiveClient
from workbench.spect.analysis import StudyAnalysis
from workbench.spect.display import plane_cut
from workbench.spect.lvframe import angle_between
from workbench.spect.phantom import Phantom, make_phantom, phantom_datasets
from workbench.spect.report import study_to_dict
from workbench.spect.study import is_gated_spect, load_sets
from workbench.spect.volume import make_volume
from workbench.viewer.reading import ReadingApp
from workbench.viewer.spect import SpectDashboard

ROW = re.compile(r'<tr data-quantity="([^"]+)"><th>[^<]*</th>((?:<td[^>]*>[^<]*</td>)+)</tr>')
CELL = re.compile(r"<td[^>]*>([^<]*)</td>")


def run(coroutine: Any) -> Any:
    """Run a coroutine on a loop of its own thread (as the viewer tests do)."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


def shown(dashboard: SpectDashboard) -> dict[str, list[str]]:
    """The results table's cells by quantity, as the page shows them."""
    html = dashboard._table.object
    assert isinstance(html, str)
    return {label: CELL.findall(cells) for label, cells in ROW.findall(html)}


@pytest.fixture(scope="module")
def dashboard(pair_phantoms: tuple[Phantom, Phantom],
              pair_result: StudyAnalysis) -> SpectDashboard:
    stress, rest = pair_phantoms
    return SpectDashboard(make_volume(stress.counts, stress.affine),
                          rest=make_volume(rest.counts, rest.affine), analysis=pair_result,
                          background=False)  # fmt: skip


def test_numbers_shown_equal_the_analysis(dashboard: SpectDashboard,
                                          pair_result: StudyAnalysis) -> None:
    cells = shown(dashboard)
    json = study_to_dict(pair_result)
    for state in ("stress", "rest"):
        a = getattr(pair_result, state)
        column = 0 if state == "stress" else 1
        for label, value in (("EDV (mL)", a.curve.edv_ml), ("ESV (mL)", a.curve.esv_ml),
                             ("SV (mL)", a.curve.sv_ml), ("LVEF (%)", a.curve.ef_pct)):
            assert cells[label][column] == f"{value:.0f}", (state, label)
        assert abs(float(cells["LVEF (%)"][column]) - json[state]["lvef_pct"]) <= 0.5
        assert cells["Phase SD (deg)"][column] == f"{a.phase.sd_deg:.1f}"
        assert cells["Summed score"][column] == str(json[state]["summed_score"])
    assert cells["TID"] == [f"{pair_result.tid:.2f}"]
    assert cells["SSS"] == [str(pair_result.sss)] and cells["SRS"] == [str(pair_result.srs)]
    assert cells["SDS"] == [str(pair_result.sds)] and pair_result.sds is not None
    assert pair_result.sds > 0                       # the LAD and LCx defects are reversible


def test_polar_maps_carry_the_segment_scores(dashboard: SpectDashboard,
                                             pair_result: StudyAnalysis) -> None:
    assert pair_result.stress_scores and pair_result.rest_scores and pair_result.stress
    perfusion = dashboard._perfusion
    assert perfusion["stress"].labels.data["text"] == [str(s) for s in
                                                       pair_result.stress_scores.scores]
    assert perfusion["rest"].labels.data["text"] == [str(s) for s in
                                                     pair_result.rest_scores.scores]
    assert perfusion["reversibility"].labels.data["text"] == [
        str(s) for s in pair_result.difference_scores or ()]
    image = perfusion["stress"].image.data["image"][0]
    assert image.shape == (161, 161) and np.isnan(image[0, 0])
    cells = pair_result.stress.perfusion.values
    assert np.isin(image[~np.isnan(image)], cells).all()     # the map's own values
    assert np.nanmax(image) == cells.max() and np.nanmin(image) == cells.min()
    motion = dashboard._function[("stress", "motion")].labels.data["text"]
    assert motion == [f"{v:.0f}" for v in pair_result.stress.motion_mm or ()]
    points = dashboard._curve_src["stress"][0].data
    assert points["y"] == list(pair_result.stress.curve.volumes_ml)  # type: ignore[union-attr]


def test_slice_rows_contours_and_cine(dashboard: SpectDashboard,
                                      pair_result: StudyAnalysis) -> None:
    data = dashboard.data
    assert data is not None and set(data.rows) == {(s, v) for s in ("stress", "rest")
                                                   for v in ("sa", "vla", "hla")}
    sa = data.rows[("stress", "sa")]
    assert sa.images.shape[0] == 8 and sa.images.shape[2] == 8 * sa.tile
    assert all(len(e) > 20 and len(p) > 20 for e, p in zip(sa.endo, sa.epi, strict=True))
    # Mid-ventricle: the endocardium lies inside the epicardium, both round the axis.
    k, centre = 4, (4 * sa.tile + sa.tile / 2, sa.tile / 2)

    def radius(segments: np.ndarray) -> float:
        inside = segments[(segments[:, 0] >= k * sa.tile) & (segments[:, 0] < (k + 1) * sa.tile)]
        return float(np.hypot(inside[:, 0] - centre[0], inside[:, 1] - centre[1]).mean())

    ed = pair_result.stress.curve.ed_gate  # type: ignore[union-attr]
    assert radius(sa.endo[ed]) + 2 < radius(sa.epi[ed])
    source = dashboard._slices[("stress", "sa")]
    es = pair_result.stress.curve.es_gate  # type: ignore[union-attr]
    dashboard.gate = es
    assert np.array_equal(source.image.data["image"][0], sa.images[es])
    assert len(source.endo.data["x0"]) == len(sa.endo[es])
    dashboard.contours = False
    assert len(source.endo.data["x0"]) == 0
    dashboard.param.update(gate=ed, contours=True)
    assert radius(sa.endo[es]) < radius(sa.endo[ed])  # the cavity shrinks in systole


def test_plane_cut_drops_the_valve_side() -> None:
    angle = np.radians(np.arange(0, 360, 30))[None, :]
    z = np.arange(5.0)[:, None] + 0 * angle
    pts = np.stack([z, np.sin(angle) + 0 * z, np.cos(angle) + 0 * z], axis=-1)
    valid = np.ones(z.shape, bool)
    valid[3:] = False                                 # rings 3-4 below the valve plane
    assert len(plane_cut(pts, valid, 1.5)) == 24
    assert len(plane_cut(pts, valid, 3.5)) == 0


@pytest.fixture(scope="module")
def small() -> Phantom:
    return make_phantom(SMALL)


def test_background_analysis_reports_progress(small: Phantom) -> None:
    async def scenario() -> tuple[SpectDashboard, list[int], list[str]]:
        dash = SpectDashboard(small.counts, affine=small.affine)   # scheduled on this loop
        assert dash.busy and dash.data is None
        progress: list[int] = []
        status: list[str] = []
        dash.param.watch(lambda e: progress.append(e.new), "progress")
        dash.param.watch(lambda e: status.append(e.new), "status")
        for _ in range(1200):
            if not dash.busy:
                break
            await asyncio.sleep(0.1)
        return dash, progress, status

    dash, progress, status = run(scenario())
    assert dash.data is not None and not dash.busy and dash.status == ""
    assert progress == sorted(progress) and progress[-1] == 100 and len(progress) >= 3
    assert status[:4] == ["Loading the study...", "Analysing the stress set...",
                          "Scoring perfusion...", "Reslicing the stress set..."]
    assert dash.data.study.stress is not None and dash.data.study.rest is None
    assert set(dash.data.rows) == {("stress", "sa"), ("stress", "vla"), ("stress", "hla")}
    assert not dash._slices[("rest", "sa")].pane.visible


def test_a_tilted_axis_is_analysed_again(small: Phantom) -> None:
    dash = SpectDashboard(small.counts, affine=small.affine, background=False)
    assert dash.data is not None and dash.data.study.stress is not None
    before = dash.data.study.stress.long_axis
    dash.param.update(tilt_anterior_deg=12.0, tilt_septal_deg=-5.0)
    dash.reorient()
    after = dash.data.study.stress
    assert after is not None and after.long_axis != before
    assert abs(angle_between(after.long_axis.axis, before.axis) - 12.99) < 0.01
    assert after.long_axis.origin == before.origin
    assert dash.tilt_anterior_deg == 0.0 and not dash.busy and dash.status == ""
    assert after.curve is not None
    assert shown(dash)["LVEF (%)"] == [f"{after.curve.ef_pct:.0f}", ""]
    dash.axis_set = "rest"
    dash.reorient()                                  # no rest set: told, nothing changes
    assert dash.status == "There is no rest set to reorient." and dash.data.study.stress is after


def test_failures_are_told_not_raised(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs a source"):
        SpectDashboard()
    empty = SpectDashboard(str(tmp_path), background=False)
    assert empty.data is None and not empty.busy
    assert empty.status.startswith("Gated SPECT analysis failed: no reconstructed NM set")
    with pytest.raises(ValueError, match="pass client="):
        load_sets("1.2.3.4")
    with pytest.raises(ValueError, match="affine="):
        load_sets(np.zeros((4, 4, 4)))


def test_reading_app_opens_gated_spect_in_the_dashboard(small: Phantom, tmp_path: Path) -> None:
    (ds,) = phantom_datasets([small], study_uid="2.25.909001")
    ds.save_as(tmp_path / "nm.dcm", enforce_file_format=True)
    with LocalFolderArchiveClient(tmp_path) as archive:
        metadata = archive.retrieve_series_metadata("2.25.909001", str(ds.SeriesInstanceUID))
        assert is_gated_spect(metadata)
        assert not is_gated_spect([{"00080060": {"vr": "CS", "Value": ["CT"]}}])
        stress, rest = load_sets("2.25.909001", client=archive)
        assert stress is None and rest is not None
        assert np.array_equal(rest.values, small.counts)

        async def scenario() -> Any:
            app = ReadingApp(archive)
            await app.open_study("2.25.909001")
            viewer = app.viewers[0]
            assert isinstance(viewer, SpectDashboard)
            for _ in range(1200):
                if not viewer.busy:
                    break
                await asyncio.sleep(0.1)
            return viewer

        viewer = run(scenario())
    assert viewer.status == "" and viewer.data is not None
    rest_result = viewer.data.study.rest
    assert rest_result is not None and rest_result.curve is not None
    assert abs(rest_result.curve.ef_pct - small.truth.ef_pct) < 5
    assert shown(viewer)["LVEF (%)"] == ["", f"{rest_result.curve.ef_pct:.0f}"]
