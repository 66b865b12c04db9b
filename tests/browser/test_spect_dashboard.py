"""The Gated SPECT dashboard served by Panel (``pn.serve`` on a free port), in Chromium.

The served session analyses a small stress/rest phantom (32^3, 8 gates) on a worker
thread, as it would a study from the archive: the page shows the progress status, then
the results table and the polar maps. The test reads the LVEF cell and the stress polar
map's canvas, then steps the cine from Python and checks the short-axis row is redrawn.
A second page shows a study of a real archive as a reading physician opens it and
clicks "Send to report" (what was sent is listed) and "Export SR" (the SR stored).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import panel as pn
import pytest

from tests.browser.test_reading import wait_for
from tests.conftest import free_port, start_archive, stop_archive
from tests.server.people import active_practice, stow
from tests.workbench.spect.cases import PAIR_DEFECTS, SMALL
from workbench.dicomweb.client import HttpArchiveClient
from workbench.spect.phantom import PhantomSpec, make_phantom, phantom_datasets, stress_rest_specs
from workbench.spect.volume import make_volume
from workbench.viewer.report_api import ReportApi
from workbench.viewer.spect import SpectDashboard

pytestmark = [pytest.mark.browser]

# Distinct colours (sampled) and a hash of a Bokeh canvas.
CANVAS_COLOURS = """(canvas) => {
  const d = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const seen = new Set(); let hash = 7;
  for (let i = 0; i < d.length; i += 16) {
    seen.add(d[i] * 65536 + d[i + 1] * 256 + d[i + 2]);
    hash = (hash * 31 + d[i] + d[i + 1]) >>> 0;
  }
  return {colours: seen.size, hash};
}"""


@contextmanager
def dashboard_page(chromium: Any) -> Iterator[tuple[Any, list[str]]]:
    """A wide page and the script errors it collects; closed afterwards."""
    page = chromium.new_page(viewport={"width": 1500, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page, errors
    finally:
        page.close()


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[list[SpectDashboard], str]]:
    base = PhantomSpec(defects=PAIR_DEFECTS, variation_seed=5, seed=2, matrix=32,
                       oversample=2, liver=0.0)
    stress, rest = (make_phantom(s) for s in stress_rest_specs(base, tid=1.25))
    volumes = (make_volume(stress.counts, stress.affine), make_volume(rest.counts, rest.affine))
    sessions: list[SpectDashboard] = []

    def page() -> Any:
        dashboard = SpectDashboard(volumes[0], rest=volumes[1])   # analysed in the background
        sessions.append(dashboard)
        return pn.panel(dashboard)

    port = free_port()
    server = pn.serve({"/": page}, port=port, address="127.0.0.1", threaded=True, show=False,
                      start=True)
    try:
        yield sessions, f"http://127.0.0.1:{port}/"
    finally:
        server.stop()


def test_dashboard_shows_progress_then_polar_map_and_lvef(
        chromium: Any, served: tuple[list[SpectDashboard], str], artifacts: Path) -> None:
    sessions, url = served
    with dashboard_page(chromium) as (page, errors):
        page.goto(url)
        status = page.locator(".wb-spect-status pre")
        wait_for(lambda: status.count() and status.first.inner_text().strip(), timeout=60,
                 what="a status while the study is analysed")
        page.screenshot(path=str(artifacts / "spect-progress.png"))

        lvef = page.locator("tr[data-quantity='LVEF (%)'] td[data-state='stress']")
        lvef.wait_for(timeout=180_000)
        dashboard = sessions[-1]
        assert dashboard.data is not None and dashboard.data.study.stress is not None
        curve = dashboard.data.study.stress.curve
        assert curve is not None
        assert lvef.inner_text() == f"{curve.ef_pct:.0f}"
        assert lvef.is_visible()
        rest_lvef = page.locator("tr[data-quantity='LVEF (%)'] td[data-state='rest']")
        assert dashboard.data.study.rest is not None and dashboard.data.study.rest.curve
        assert rest_lvef.inner_text() == f"{dashboard.data.study.rest.curve.ef_pct:.0f}"
        wait_for(lambda: status.first.inner_text().strip() == "", what="the status cleared")

        polar = page.locator(".wb-spect-polar-stress")
        polar.scroll_into_view_if_needed()
        assert polar.is_visible()
        box = polar.bounding_box()
        assert box is not None and box["width"] > 150 and box["height"] > 150
        canvas = polar.locator("canvas").first
        drawn = wait_for(lambda: (c := canvas.evaluate(CANVAS_COLOURS))["colours"] > 30 and c,
                         what="the stress polar map drawn in colour")
        assert drawn["colours"] > 30
        page.screenshot(path=str(artifacts / "spect-dashboard.png"), full_page=True)

        row = page.locator(".wb-spect-sa-stress canvas").first
        row.scroll_into_view_if_needed()
        before = wait_for(lambda: (c := row.evaluate(CANVAS_COLOURS))["colours"] > 30 and c,
                          what="the stress short-axis row drawn")
        dashboard.gate = dashboard.data.study.stress.curve.es_gate   # cine, from Python
        wait_for(lambda: row.evaluate(CANVAS_COLOURS)["hash"] != before["hash"],
                 what="the short-axis row redrawn at end-systole")
        assert not errors, errors



def test_clicking_a_slice_in_edit_mode_bends_the_contour(
        chromium: Any, served: tuple[list[SpectDashboard], str], artifacts: Path) -> None:
    """"Edit contours", a click 4 mm outside the stress endocardium on the short-axis row:
    the set is analysed again, the table says the contours were edited, the EDV grows."""
    sessions, url = served
    with dashboard_page(chromium) as (page, errors):
        page.goto(url)
        page.locator("tr[data-quantity='LVEF (%)'] td[data-state='stress']").wait_for(
            timeout=180_000)
        dashboard = sessions[-1]
        wait_for(lambda: not dashboard.busy, what="the analysis settled")
        assert dashboard.data is not None and dashboard.data.study.stress is not None
        before = dashboard.data.study.stress
        assert before.curve is not None
        row = dashboard.data.rows[("stress", "sa")]
        segments = row.endo[dashboard.gate * row.n_gates // dashboard._gates()]
        x0, y0 = (float(v) for v in segments[len(segments) // 2, :2])
        k = int(x0 // row.tile)
        away = np.array([x0 - (k + 0.5) * row.tile, y0 - row.tile / 2])
        x, y = np.array([x0, y0]) + away / np.linalg.norm(away) * 4.0 / row.spacing_mm

        page.locator(".wb-spect-edit button").click()
        wait_for(lambda: dashboard.edit_contours, what="edit mode on")
        canvas = page.locator(".wb-spect-sa-stress canvas").first
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        height, width = row.images.shape[1:]
        scale = box["width"] / width                       # screen pixels per slice pixel
        top = box["y"] + box["height"] - height * scale    # the title is above the image
        page.mouse.click(box["x"] + x * scale, top + y * scale)
        edited = page.locator(".wb-spect-edited")
        edited.wait_for(timeout=180_000)
        assert "stress" in edited.inner_text()
        after = dashboard.data.study.stress
        assert after is not None and after.curve is not None and after.segmentation.edited
        assert after.curve.edv_ml > before.curve.edv_ml
        page.screenshot(path=str(artifacts / "spect-contour-edited.png"), full_page=True)
        assert not errors, errors


@pytest.fixture(scope="module")
def served_study(tmp_path_factory: pytest.TempPathFactory
                 ) -> Iterator[tuple[list[SpectDashboard], str, ReportApi]]:
    """A dashboard served on a study of a real archive, as a reading physician opens it."""
    archive = start_archive(tmp_path_factory.mktemp("spect-browser") / "data")
    server = None
    try:
        physician = active_practice(archive, "reader@spect-browser.example")
        stress, rest = (make_phantom(s) for s in stress_rest_specs(SMALL, tid=1.2))
        datasets = phantom_datasets([stress, rest])
        r = stow(archive, physician.headers, datasets)
        assert r.status_code == 200, r.text
        study_uid = str(datasets[0].StudyInstanceUID)
        sessions: list[SpectDashboard] = []

        def page() -> Any:
            dashboard = SpectDashboard(
                study_uid, client=HttpArchiveClient(archive.dicomweb, token=physician.token),
                reports=ReportApi(archive.url, token=physician.token))  # fmt: skip
            sessions.append(dashboard)
            return pn.panel(dashboard)

        port = free_port()
        server = pn.serve({"/": page}, port=port, address="127.0.0.1", threaded=True,
                          show=False, start=True)  # fmt: skip
        yield sessions, f"http://127.0.0.1:{port}/", ReportApi(archive.url,
                                                              token=physician.token)
    finally:
        if server is not None:
            server.stop()
        stop_archive(archive)


def test_send_to_report_and_export_sr_buttons(
        chromium: Any, served_study: tuple[list[SpectDashboard], str, ReportApi],
        artifacts: Path) -> None:
    sessions, url, api = served_study
    with dashboard_page(chromium) as (page, errors):
        page.goto(url)
        page.locator("tr[data-quantity='LVEF (%)'] td[data-state='stress']").wait_for(
            timeout=180_000)
        dashboard = sessions[-1]
        assert dashboard.data is not None
        page.locator(".wb-spect-send-report button").click()
        lvef = page.locator(".wb-spect-sent li[data-field='lvef']")
        lvef.wait_for(timeout=60_000)
        sent = dashboard.export.sent
        assert sent is not None and sent.created
        assert lvef.inner_text() == f"lvef: {sent.values['lvef']['value']:g} %"
        report = api.report(sent.report_id)
        assert report["versions"][-1]["content"]["values"]["lvef"] == sent.values["lvef"]

        page.locator(".wb-spect-export-sr button").click()
        status = page.locator(".wb-spect-export-status pre")
        wait_for(lambda: "SR stored:" in status.first.inner_text(), timeout=60,
                 what="the SR stored")
        assert dashboard.export.sr_uid in status.first.inner_text()
        page.screenshot(path=str(artifacts / "spect-export.png"), full_page=True)
        assert not errors, errors
